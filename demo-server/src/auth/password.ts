import { randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto'

/** scrypt cost parameters. */
export interface ScryptParams {
  /** CPU/memory cost, a power of two. */
  N: number
  /** Block size. */
  r: number
  /** Parallelisation. */
  p: number
}

/**
 * Default scrypt parameters: N=2^15, r=8, p=3 — one of OWASP's listed
 * equivalents of its scrypt minimum (N=2^17, r=8, p=1), using 32 MiB per hash
 * instead of 128 MiB, which matters on a small demo box.
 */
export const DEFAULT_SCRYPT_PARAMS: ScryptParams = { N: 2 ** 15, r: 8, p: 3 }

/** Longest password accepted, in characters. Checked by the route schema before any hashing. */
export const MAX_PASSWORD_LENGTH = 1024

const KEY_LENGTH = 32
const SALT_LENGTH = 16

/** Hashes and verifies passwords. Injectable so tests can count calls and use cheap parameters. */
export interface PasswordHasher {
  hash(password: string): Promise<string>
  /** Constant-time comparison; `false` for a malformed stored hash. */
  verify(password: string, stored: string): Promise<boolean>
}

function scrypt(password: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  const options: ScryptOptions = {
    N: params.N,
    r: params.r,
    p: params.p,
    // Node refuses anything above maxmem (default 32 MiB); scrypt needs 128 * N * r bytes plus headroom.
    maxmem: 128 * params.N * params.r * 2,
  }
  return new Promise((resolve, reject) => {
    scryptCallback(password.normalize('NFC'), salt, KEY_LENGTH, options, (err, key) => (err ? reject(err) : resolve(key)))
  })
}

/**
 * A scrypt {@link PasswordHasher} (node:crypto, no native dependency). Hashes
 * are self-describing — `scrypt$N$r$p$salt$hash`, base64url — so a hash made
 * with other parameters still verifies.
 *
 * @example
 * const hasher = createScryptHasher()
 * const stored = await hasher.hash('demo')
 * await hasher.verify('demo', stored) // true
 */
export function createScryptHasher(params: ScryptParams = DEFAULT_SCRYPT_PARAMS): PasswordHasher {
  if (!Number.isInteger(Math.log2(params.N)) || params.N < 2) throw new TypeError('"scrypt.N" must be a power of two')
  return {
    async hash(password) {
      const salt = randomBytes(SALT_LENGTH)
      const key = await scrypt(password, salt, params)
      return ['scrypt', params.N, params.r, params.p, salt.toString('base64url'), key.toString('base64url')].join('$')
    },
    async verify(password, stored) {
      const parts = stored.split('$')
      if (parts.length !== 6 || parts[0] !== 'scrypt') return false
      const [N, r, p] = parts.slice(1, 4).map(Number)
      if (!N || !r || !p) return false
      const salt = Buffer.from(parts[4] ?? '', 'base64url')
      const expected = Buffer.from(parts[5] ?? '', 'base64url')
      if (expected.length !== KEY_LENGTH) return false
      const actual = await scrypt(password, salt, { N, r, p })
      return timingSafeEqual(actual, expected)
    },
  }
}
