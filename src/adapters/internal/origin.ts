const page = (): string | undefined => (globalThis as { location?: { href?: string } }).location?.href

/** The origin `url` goes to, resolved as the WHATWG URL parser (and so the browser) does; null if unparseable. */
export function originOf(url: string, base = page()): string | null {
  try {
    return new URL(url, base).origin
  } catch {
    return null
  }
}

/** Normalises `allowedOrigins` once, naming the option on a bad entry. */
export function normalizeOrigins(origins: readonly string[] | undefined): string[] {
  return (origins ?? []).map((entry) => {
    const origin = /^[a-z][a-z\d+.-]*:\/\//i.test(entry) ? originOf(entry, undefined) : null
    if (!origin || origin === 'null') throw new TypeError('"allowedOrigins" must hold origins such as "https://api.example.com"')
    return origin
  })
}

/**
 * Whether a token may go to `url`: relative URLs (the page's origin), `extra`
 * (an axios instance's baseURL) and `allowed`; never any other origin.
 */
export function isAllowed(url: string, allowed: readonly string[], extra?: string): boolean {
  const base = page()
  const origin = originOf(url, base)
  // No page (Node, React Native): a path that does not parse alone goes to no other host;
  // a protocol-relative one ("//host", "\\host") might.
  if (!origin) return !base && !/^[\s\\/]*[\\/]{2}/.test(url)
  return origin !== 'null' && (origin === originOf(base ?? '', undefined) || (extra !== undefined && origin === originOf(extra, base)) || allowed.includes(origin))
}
