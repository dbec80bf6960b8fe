/** The React Native build's fallback (rollup.config.js swaps it in for ./origin-fallback.ts): the parser. */
export { parseOrigin as fallbackOrigin } from './origin-parser.js'
