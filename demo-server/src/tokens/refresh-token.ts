import { createHash, createHmac, randomBytes } from 'node:crypto'

/** 256 random bits, base64url without padding: always 43 characters. */
const REFRESH_TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/

/** A new opaque refresh token: 256 bits from the CSPRNG, base64url. */
export function generateRefreshToken(): string {
  return randomBytes(32).toString('base64url')
}

/**
 * The refresh token that replaces `parent` at rotation: an HMAC of the parent
 * under a server secret, so the same as random to anyone without the secret,
 * yet the same child every time for the same parent. A client that retries a
 * rotation whose answer it lost (a crash, a dropped connection) therefore gets
 * the very token the first attempt committed, as long as nobody has used it
 * (the store checks that). Tokens issued at login are random.
 */
export function createChildTokens(secret: Buffer): (parent: string) => string {
  return (parent) => createHmac('sha256', secret).update(`refresh-token child v1\n${parent}`).digest('base64url')
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
