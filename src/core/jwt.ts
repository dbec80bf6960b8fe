const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

/**
 * Decodes base64url to a string of UTF-8 code units, with no `atob`: Hermes
 * before React Native 0.74 has none, and a JWT silently read as opaque there
 * would lose proactive refresh (DESIGN 12). Also accepts `+` and `/`.
 */
function base64UrlToUtf8(input: string): string {
  let bits = 0
  let value = 0
  let escaped = ''
  for (const char of input.replace(/=+$/, '')) {
    const digit = ALPHABET.indexOf(char === '+' ? '-' : char === '/' ? '_' : char)
    if (digit < 0) throw new TypeError('not base64url')
    value = (value << 6) | digit
    bits += 6
    if (bits >= 8) {
      bits -= 8
      escaped += '%' + ((value >> bits) & 0xff).toString(16).padStart(2, '0')
    }
  }
  return decodeURIComponent(escaped)
}

/** The claims of a JWT that matter for expiry. */
export interface JwtTimes {
  exp?: number
  iat?: number
}

/**
 * Reads `exp` and `iat` from a JWT's payload, unverified (all a client may do).
 * `null` when `token` is not a JWT: an opaque token is fine.
 */
export function readJwtTimes(token: string): JwtTimes | null {
  const parts = token.split('.')
  if (parts.length !== 3) return null
  try {
    const claims: unknown = JSON.parse(base64UrlToUtf8(parts[1]!))
    if (typeof claims !== 'object' || claims === null) return null
    const { exp, iat } = claims as Record<string, unknown>
    return { exp: finite(exp), iat: finite(iat) }
  } catch {
    return null
  }
}

export const finite = (value: unknown): number | undefined =>
  typeof value === 'number' && Number.isFinite(value) ? value : undefined
