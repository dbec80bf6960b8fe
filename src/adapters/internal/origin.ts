import { fallbackOrigin } from './origin-fallback.js'

/**
 * Stands for the page's origin where there is none (Node, React Native): random,
 * so no absolute URL can name it, and only a path resolves to it.
 */
const NO_PAGE = `http://${Math.random().toString(36).slice(2)}.invalid`

const page = (): string => (globalThis as { location?: { href?: string } }).location?.href ?? NO_PAGE

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
 * The origin `url` goes to, resolved as the WHATWG URL parser (and so the
 * browser) does; null if unparseable. Without a WHATWG `URL` (React Native's
 * own), the fallback answers: the parser in the React Native build, a
 * `TypeError` that names the fix in every other build.
 */
export function originOf(url: string, base?: string): string | null {
  if (!hasWhatwgUrl()) return fallbackOrigin(url, base)
  try {
    return new URL(url, base).origin
  } catch {
    return null
  }
}

/**
 * Normalises `allowedOrigins` once, naming the option on a bad entry. Called
 * when an adapter is attached: where no origin can be judged (React Native's
 * `URL` and a build without the parser), it throws there, before any request.
 */
export function normalizeOrigins(origins: readonly string[] | undefined): string[] {
  originOf(NO_PAGE)
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
  // The last URL and its answer: comparing a URL built for this request with it costs less than hashing it.
  let lastUrl: string | undefined
  let lastAnswer = false
  return (url) => {
    const base = page()
    const more = extra?.()
    if (base !== seenPage || more !== seenExtra || seen.size >= 500) {
      seen = new Map()
      seenPage = base
      seenExtra = more
      lastUrl = undefined
    }
    if (url === lastUrl) return lastAnswer
    let answer = seen.get(url)
    if (answer === undefined) {
      answer = isAllowed(url, allowed, more)
      seen.set(url, answer)
    }
    lastUrl = url
    lastAnswer = answer
    return answer
  }
}
