import { createHash, randomBytes } from 'node:crypto'

/** 256 random bits, base64url without padding: always 43 characters. */
const REFRESH_TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/

/** A new opaque refresh token: 256 bits from the CSPRNG, base64url. */
export function generateRefreshToken(): string {
  return randomBytes(32).toString('base64url')
}

/** Whether a string can be a refresh token at all (checked before any lookup). */
export function isWellFormedRefreshToken(token: string): boolean {
  return REFRESH_TOKEN_PATTERN.test(token)
}

/**
 * SHA-256 of the token, hex. Only this reaches the store, so a leaked database
 * holds no usable refresh token. A plain hash (no salt, no slow KDF) is right
 * here: the input is 256 random bits, not a guessable password.
 */
export function hashRefreshToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex')
}

/** A new random identifier (token family ids, `sid`). */
export function generateId(): string {
  return randomBytes(16).toString('base64url')
}
