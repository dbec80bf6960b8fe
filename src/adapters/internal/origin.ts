/**
 * Stands for the page's origin where there is none (Node, React Native): random,
 * so no absolute URL can name it, and only a path resolves to it.
 */
const NO_PAGE = `http://${Math.random().toString(36).slice(2)}.invalid`

const page = (): string => (globalThis as { location?: { href?: string } }).location?.href ?? NO_PAGE

/** The schemes whose requests carry a token, and their default ports. */
const DEFAULT_PORTS: Record<string, string> = { http: '80', https: '443' }
const SCHEME = /^([a-z][a-z\d+\-.]*):/i

/** Whether the WHATWG parser would rewrite `host` as an IPv4 address (hex, octal, fewer parts): its last label is a number, and it is not plain dotted decimal. */
const rewrittenIpv4 = (host: string): boolean =>
  /(?:^|\.)(?:\d+|0x[\da-f]*)\.?$/.test(host) && !(/^(\d+\.){3}\d+$/.test(host) && host.split('.').every((n) => String(Number(n)) === n && Number(n) < 256))

let checkedUrl: unknown
let whatwgUrl = false

/**
 * Whether the global `URL` is the WHATWG parser (browsers, Node, Bun, Deno, a
 * polyfill such as react-native-url-polyfill). React Native's own is not: before
 * 0.80 its `origin` throws; since, `origin` is a regular expression's match that
 * keeps user info, and "HTTPS://host" or " https://host" is taken for a path under
 * the base. Checked at call time, again whenever `URL` is replaced (an app may
 * install a polyfill after importing this).
 */
function hasWhatwgUrl(): boolean {
  if (checkedUrl !== globalThis.URL) {
    checkedUrl = globalThis.URL
    try {
      whatwgUrl = new URL('HTTP://user@A.test:80').origin === 'http://a.test'
    } catch {
      whatwgUrl = false
    }
  }
  return whatwgUrl
}

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

/** The origin `url` goes to, resolved as the WHATWG URL parser (and so the browser) does; null if unparseable. */
export function originOf(url: string, base?: string): string | null {
  if (!hasWhatwgUrl()) return parseOrigin(url, base)
  try {
    return new URL(url, base).origin
  } catch {
    return null
  }
}

/** Normalises `allowedOrigins` once, naming the option on a bad entry. */
export function normalizeOrigins(origins: readonly string[] | undefined): string[] {
  return (origins ?? []).map((entry) => {
    const origin = originOf(entry)
    if (!origin || origin == 'null') throw new TypeError('"allowedOrigins" must hold origins such as "https://api.example.com"')
    return origin
  })
}

/**
 * Whether a token may go to `url`: relative URLs (the page's origin), `extra`
 * (an axios instance's baseURL) and `allowed`; never any other origin. Resolving
 * as the parser does catches "//host", "\\host", "/\t/host" and "user@host".
 */
export function isAllowed(url: string, allowed: readonly string[], extra?: string): boolean {
  const base = page()
  const origin = originOf(url, base)
  return !!origin && origin != 'null' && [originOf(base), extra && originOf(extra, base), ...allowed].includes(origin)
}

/**
 * `isAllowed` for one adapter's allowlist, remembering its last answers: an app
 * calls the same few URLs again and again, and parsing each one is most of an
 * adapter's own cost per request. What "relative" means (the page) and the
 * extra origin (axios's baseURL) are checked on every call: when either
 * changes, the memory starts over. It also does past a few hundred URLs.
 */
export function createOriginCheck(origins: readonly string[] | undefined, extra?: () => string | undefined): (url: string) => boolean {
  const allowed = normalizeOrigins(origins)
  let seen = new Map<string, boolean>()
  let seenPage: string | undefined
  let seenExtra: string | undefined
  return (url) => {
    const base = page()
    const more = extra?.()
    if (base !== seenPage || more !== seenExtra || seen.size >= 500) {
      seen = new Map()
      seenPage = base
      seenExtra = more
    }
    let answer = seen.get(url)
    if (answer === undefined) {
      answer = isAllowed(url, allowed, more)
      seen.set(url, answer)
    }
    return answer
  }
}
