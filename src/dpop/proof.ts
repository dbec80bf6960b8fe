const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

/** base64url without padding (RFC 7515 §2), without `btoa` (Hermes before React Native 0.74 has none). */
export function base64url(input: Uint8Array | ArrayBuffer | string): string {
  const bytes = typeof input === 'string' ? new TextEncoder().encode(input) : new Uint8Array(input)
  let out = ''
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0)
    out += ALPHABET[(n >> 18) & 63]! + ALPHABET[(n >> 12) & 63]!
    if (i + 1 < bytes.length) out += ALPHABET[(n >> 6) & 63]!
    if (i + 2 < bytes.length) out += ALPHABET[n & 63]!
  }
  return out
}

/** The public key as a JWK with only the members RFC 7638 hashes, in its order: never `d`, `key_ops` or `ext`. */
export async function publicJwk(subtle: SubtleCrypto, publicKey: CryptoKey): Promise<{ crv: string; kty: string; x: string; y: string }> {
  const { crv, kty, x, y } = await subtle.exportKey('jwk', publicKey)
  return { crv: crv!, kty: kty!, x: x!, y: y! }
}

/** `base64url(SHA-256(text))`: `ath` (RFC 9449 §4.2) and the JWK thumbprint (RFC 7638). */
export async function sha256(subtle: SubtleCrypto, text: string): Promise<string> {
  return base64url(await subtle.digest('SHA-256', new TextEncoder().encode(text)))
}

/** `htu` (RFC 9449 §4.2): the URL without query and fragment, resolved against the page where there is one. */
export function htuOf(url: string): string {
  const base = (globalThis as { location?: { href?: string } }).location?.href
  let parsed: URL
  try {
    parsed = new URL(url, base)
  } catch {
    // Without the query: it may hold a secret.
    throw new TypeError(`dpop: cannot make a proof for "${url.replace(/[?#][^]*$/, '')}": it is not an absolute URL, and there is no page to resolve it against`)
  }
  return `${parsed.protocol}//${parsed.host}${parsed.pathname}`
}

/** A JWS compact serialization signed with ES256: `header` is already encoded; the signature is the raw r‖s WebCrypto gives. */
export async function signJws(subtle: SubtleCrypto, privateKey: CryptoKey, header: string, claims: object): Promise<string> {
  const input = `${header}.${base64url(JSON.stringify(claims))}`
  const signature = await subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, privateKey, new TextEncoder().encode(input))
  return `${input}.${base64url(signature)}`
}
