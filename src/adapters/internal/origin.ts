/** Stands for "the page's origin" where there is no page (Node, React Native). */
const NO_PAGE = 'http://relative.invalid'

const pageHref = (): string => (globalThis as { location?: { href?: string } }).location?.href ?? NO_PAGE

/** The origin `url` is sent to, resolved as the WHATWG URL parser (and so the browser) does; null if unparseable. */
export function originOf(url: string): string | null {
  try {
    return new URL(url, pageHref()).origin
  } catch {
    return null
  }
}

/** Normalises `allowedOrigins` once, naming the option on a bad entry. */
export function normalizeOrigins(origins: readonly string[] | undefined): string[] {
  return (origins ?? []).map((entry) => {
    const origin = /^[a-z][a-z\d+.-]*:\/\//i.test(entry) ? originOf(entry) : null
    if (!origin || origin === 'null') throw new TypeError('"allowedOrigins" must hold origins such as "https://api.example.com"')
    return origin
  })
}

/**
 * Whether a token may go to `url`: relative URLs (the page's origin), `extra`
 * (an axios instance's baseURL) and `allowed`; never any other origin.
 */
export function isAllowed(url: string, allowed: readonly string[], extra?: string): boolean {
  const origin = originOf(url)
  if (!origin || origin === 'null') return false
  return origin === originOf(pageHref()) || (extra !== undefined && origin === originOf(extra)) || allowed.includes(origin)
}
