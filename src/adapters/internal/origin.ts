/**
 * Stands for the page's origin where there is none (Node, React Native): random,
 * so no absolute URL can name it, and only a path resolves to it.
 */
const NO_PAGE = `http://${Math.random().toString(36).slice(2)}.invalid`

const page = (): string => (globalThis as { location?: { href?: string } }).location?.href ?? NO_PAGE

/** The origin `url` goes to, resolved as the WHATWG URL parser (and so the browser) does; null if unparseable. */
export function originOf(url: string, base?: string): string | null {
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
 * adapter's own cost per request. The page (and so what "relative" means) is
 * part of the key; the memory is cleared when it grows past a few hundred URLs.
 */
export function createOriginCheck(origins: readonly string[] | undefined, extra?: () => string | undefined): (url: string) => boolean {
  const allowed = normalizeOrigins(origins)
  let seen = new Map<string, boolean>()
  return (url) => {
    const key = `${page()} ${extra?.() ?? ''} ${url}`
    let answer = seen.get(key)
    if (answer === undefined) {
      if (seen.size >= 500) seen = new Map()
      answer = isAllowed(url, allowed, extra?.())
      seen.set(key, answer)
    }
    return answer
  }
}
