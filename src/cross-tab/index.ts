export { crossTab } from './cross-tab.js'

export type { CrossTabOptions } from './cross-tab.js'
