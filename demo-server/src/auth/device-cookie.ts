import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'

/**
 * The device cookie of OWASP's "Slow Down Online Guessing Attacks with Device
 * Cookies": set on a successful login, it proves later that this browser has
 * signed in as this user before. Such a login draws on a budget of its own
 * (auth/login-limits.ts), so a stranger who spends the account's budget for
 * unknown devices cannot lock the real user out of a device they have used.
 *
 * `__Secure-` with `Path=/auth/login`: it travels to the login route only;
 * HttpOnly, SameSite=Strict. A planted cookie is useless: it is an HMAC over
 * the username and a random id, made with a key derived from the signing key,
 * and valid for that username only (the name itself is not in the cookie).
 */
export const DEVICE_COOKIE = '__Secure-login-device'

/** Cookie attributes (the path keeps it off every other route). */
export const DEVICE_COOKIE_OPTIONS = { httpOnly: true, secure: true, sameSite: 'strict', path: '/auth/login' } as const

/** How long a device stays known after its last successful login, seconds. */
export const DEVICE_COOKIE_MAX_AGE_SECONDS = 30 * 24 * 3600

const FORMAT = /^([A-Za-z0-9_-]{22})\.(\d{1,12})\.([A-Za-z0-9_-]{43})$/

/** Issues and checks device cookies with an HMAC key. */
export interface DeviceCookies {
  /** A new cookie value for `username`, made now. */
  issue(username: string): string
  /** The device id if `value` is a cookie this server issued for `username` and not older than the max age; else undefined. */
  verify(value: string | undefined, username: string): string | undefined
}

export function createDeviceCookies(secret: Buffer, now: () => number): DeviceCookies {
  const mac = (username: string, id: string, issuedSec: string): Buffer =>
    createHmac('sha256', secret).update(`device-cookie v1\n${username}\n${id}\n${issuedSec}`).digest()
  return {
    issue(username) {
      const id = randomBytes(16).toString('base64url')
      const issuedSec = String(Math.floor(now() / 1000))
      return `${id}.${issuedSec}.${mac(username, id, issuedSec).toString('base64url')}`
    },
    verify(value, username) {
      const match = value === undefined ? null : FORMAT.exec(value)
      if (!match) return undefined
      const [, id = '', issuedSec = '', presented = ''] = match
      if (Math.floor(now() / 1000) - Number(issuedSec) > DEVICE_COOKIE_MAX_AGE_SECONDS) return undefined
      const expected = mac(username, id, issuedSec)
      const given = Buffer.from(presented, 'base64url')
      return given.length === expected.length && timingSafeEqual(given, expected) ? id : undefined
    },
  }
}
