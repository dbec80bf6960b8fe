/**
 * What judges an origin when the global `URL` is not the WHATWG parser. In
 * browsers, Node, Bun and Deno it always is; only React Native's own `URL` is
 * not, and the React Native build (the "react-native" export condition, which
 * Metro resolves) replaces this module with ./origin-fallback.react-native.ts,
 * the parser. This build carries no parser: it cannot tell where a request
 * goes, so it sends nothing rather than guess, and says how to fix it.
 */
export function fallbackOrigin(_url: string, _base?: string): string | null {
  throw new TypeError(
    'silent-refresh: URL is not the WHATWG parser (React Native\'s own?), so no token is sent: resolve the package with the "react-native" export condition (Metro package exports) or install react-native-url-polyfill',
  )
}
