/**
 * The origin parser React Native needs: its own `URL` is not the WHATWG parser
 * (before 0.80 `origin` throws; since, it is a regular expression's match that
 * keeps user info and takes "HTTPS://host" for a path). Only the React Native
 * build carries it (rollup.config.js, the "react-native" export condition):
 * every other runtime has a WHATWG `URL`, and ./origin-fallback.ts stands in.
 */

/** The schemes whose requests carry a token, and their default ports. */
const DEFAULT_PORTS: Record<string, string> = { http: '80', https: '443' }
const SCHEME = /^([a-z][a-z\d+\-.]*):/i

/** Whether the WHATWG parser would rewrite `host` as an IPv4 address (hex, octal, fewer parts): its last label is a number, and it is not plain dotted decimal. */
const rewrittenIpv4 = (host: string): boolean =>
  /(?:^|\.)(?:\d+|0x[\da-f]*)\.?$/.test(host) && !(/^(\d+\.){3}\d+$/.test(host) && host.split('.').every((n) => String(Number(n)) === n && Number(n) < 256))

/**
 * The origin of `url` by the WHATWG URL rules, for a runtime without a WHATWG
 * `URL` (React Native), where the native network stack parses it that way. Follows
 * what decides the host: controls and spaces around it, tabs and newlines in it,
 * `\` as `/`, any number of slashes, user info up to the last `@`, case, default
 * ports, input relative to `base`. "null" for other schemes (an opaque origin).
 * Null, so no token, for what it does not normalise as the WHATWG parser would:
 * IPv6, IPv4 other than dotted decimal, percent-encoded or non-ASCII hosts.
 */
export function parseOrigin(url: string, base?: string): string | null {
  // eslint-disable-next-line no-control-regex -- the WHATWG parser strips C0 controls and space at both ends
  const input = url.replace(/^[\x00-\x20]+|[\x00-\x20]+$|[\t\n\r]/g, '')
  const baseScheme = base && SCHEME.exec(base)?.[1]?.toLowerCase()
  let scheme = SCHEME.exec(input)?.[1]?.toLowerCase()
  let rest = input
  if (scheme) {
    if (!DEFAULT_PORTS[scheme]) return 'null'
    rest = input.slice(scheme.length + 1)
    // "https:path" against an https base is a path under it; without such a base the slashes are optional.
    if (scheme === baseScheme && !/^[/\\]{2}/.test(rest)) return parseOrigin(base!)
  } else {
    // A path, query or fragment keeps the base's origin; "//host" or "\\host" names another host.
    if (!baseScheme || !DEFAULT_PORTS[baseScheme]) return null
    if (!/^[/\\]{2}/.test(input)) return parseOrigin(base!)
    scheme = baseScheme
  }
  const authority = /^[/\\]*([^/\\?#]*)/.exec(rest)![1]!
  const match = /^((?:[\w~-]+\.)*[\w~-]+\.?)(?::(\d*))?$/.exec(authority.slice(authority.lastIndexOf('@') + 1).toLowerCase())
  const host = match?.[1]
  const port = match?.[2] ? String(Number(match[2])) : ''
  if (!host || Number(port) > 65535 || rewrittenIpv4(host)) return null
  return `${scheme}://${host}${port && port !== DEFAULT_PORTS[scheme] ? `:${port}` : ''}`
}
