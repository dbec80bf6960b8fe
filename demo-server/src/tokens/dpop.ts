import { createHash, createHmac, createPublicKey, timingSafeEqual, type KeyObject } from 'node:crypto'
import { calculateJwkThumbprint, jwtVerify, type JWK, type JWSHeaderParameters } from 'jose'

/**
 * DPoP (RFC 9449) proof verification: one module, no Fastify in it. The
 * plugin (plugins/dpop.ts) feeds it the request's method and URL and records
 * the proof's `jti` in the store (the replay cache).
 */

/** `DPOP`: `required` (every token request and API call needs a proof), `allowed` (a proof binds, none is a bearer token), `off`. */
export type DpopMode = 'required' | 'allowed' | 'off'

export const DPOP_MODES: readonly DpopMode[] = ['required', 'allowed', 'off']

/** `typ` of a DPoP proof (RFC 9449 §4.2). */
export const DPOP_TYP = 'dpop+jwt'

/**
 * Algorithms a proof may be signed with: asymmetric only, pinned (never `none`,
 * never HS*: jose refuses anything not listed before it touches a key, and the
 * key must then have the shape of the algorithm). ES256 is what browsers'
 * WebCrypto and every DPoP client do; Ed25519 under both its names, `EdDSA`
 * (RFC 8037) and the fully specified `Ed25519` (RFC 9864, what panva's `dpop`
 * and oauth4webapi send).
 */
export const DPOP_ALGORITHMS = ['ES256', 'EdDSA', 'Ed25519'] as const

/**
 * How far a proof's `iat` may be from the server's clock, seconds, either way.
 * A proof is single-use (`jti`), so this only bounds how long a captured,
 * unused proof stays usable and how long its `jti` must be remembered.
 */
export const DPOP_IAT_WINDOW_SECONDS = 60

/** Default period of the server nonce: a nonce is accepted during its period and the next one. */
export const DEFAULT_DPOP_NONCE_ROTATION_MS = 5 * 60_000

/** Longest `DPoP` header accepted (a P-256 proof is about 600 bytes). */
export const MAX_DPOP_PROOF_LENGTH = 4096

/** Longest `jti` accepted. */
const MAX_JTI_LENGTH = 256

/** Why a proof was refused: `use_dpop_nonce` (RFC 9449 §8) when only the nonce is missing or stale. */
export class DpopProofError extends Error {
  override name = 'DpopProofError'
  constructor(
    readonly code: 'invalid_dpop_proof' | 'use_dpop_nonce',
    /** What exactly failed, for the log (never the proof itself). */
    readonly detail: string,
    /** For the client (`error_description`); a generic one by default. */
    description?: string,
  ) {
    super(description ?? (code === 'use_dpop_nonce' ? 'A DPoP nonce is required; retry with the nonce from the DPoP-Nonce header.' : 'The DPoP proof is invalid.'))
  }
}

/** A proof that passed every check but the replay cache. */
export interface VerifiedProof {
  /** RFC 7638 SHA-256 thumbprint of the proof's key: what tokens are bound to (`cnf.jkt`). */
  jkt: string
  /** Replay-cache key: SHA-256 of the thumbprint and the `jti` (so one client cannot burn another's `jti`). */
  replayKey: string
  /** Epoch ms after which the proof is refused on `iat` alone: the replay-cache entry can go then. */
  replayExpiresAt: number
}

/** What the proof must match: the request it came with. */
export interface ProofTarget {
  /** The request method (`htm`). */
  method: string
  /** Origins the server answers at, each `scheme://host[:port]` (`htu` must be one of them plus the path). */
  origins: readonly string[]
  /** The request path as received, query and fragment included or not. */
  path: string
  /** The access token of a resource request (`ath`); undefined at the token endpoint. */
  accessToken?: string
}

export interface DpopVerifier {
  /** Whether proofs must carry the current server nonce. */
  readonly noncesRequired: boolean
  /** The nonce to send in `DPoP-Nonce` now. */
  nonce(): string
  /** Verifies a proof; throws {@link DpopProofError}, never anything else. */
  verify(proof: string, target: ProofTarget): Promise<VerifiedProof>
}

const UNRESERVED = /[A-Za-z0-9\-._~]/

/**
 * `htu` and the request URL, compared after RFC 3986 syntax- and scheme-based
 * normalisation (RFC 9449 §4.3 recommends it): lower-case scheme and host, no
 * default port, dot segments resolved (WHATWG URL does these), percent-encoded
 * unreserved characters decoded and other escapes upper-cased; query and
 * fragment dropped. Undefined for anything that is not an absolute http(s) URL.
 *
 * @example
 * normalizeHtu('HTTP://Example.com:80/auth/%74oken?x=1') // 'http://example.com/auth/token'
 */
export function normalizeHtu(value: string): string | undefined {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return undefined
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined
  if (url.username !== '' || url.password !== '') return undefined
  const path = url.pathname.replace(/%([0-9A-Fa-f]{2})/g, (escape, hex: string) => {
    const char = String.fromCharCode(parseInt(hex, 16))
    return UNRESERVED.test(char) ? char : escape.toUpperCase()
  })
  return `${url.origin}${path}`
}

/** `ath`: base64url(SHA-256(access token)) (RFC 9449 §4.2). */
export function accessTokenHash(token: string): string {
  return createHash('sha256').update(token, 'ascii').digest('base64url')
}

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k']

interface CachedKey {
  jkt: string
  key: KeyObject
}

/** Keys seen in proofs, by their public members: a client signs every proof with one key. */
const KEY_CACHE_SIZE = 10_000

/**
 * The public key of a proof's `jwk` header for its `alg`, with its thumbprint:
 * only the members the algorithm needs, no private member at all (RFC 9449 §4.3:
 * "the jwk JOSE Header Parameter does not contain a private key").
 */
async function publicKeyOf(header: JWSHeaderParameters, cache: Map<string, CachedKey>): Promise<CachedKey> {
  const jwk = header.jwk as Record<string, unknown> | undefined
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) throw new DpopProofError('invalid_dpop_proof', 'no jwk header')
  for (const member of PRIVATE_MEMBERS) {
    if (member in jwk) throw new DpopProofError('invalid_dpop_proof', `jwk has the private or symmetric member "${member}"`)
  }
  let bare: JWK
  if (header.alg === 'ES256') {
    if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || typeof jwk.x !== 'string' || typeof jwk.y !== 'string') {
      throw new DpopProofError('invalid_dpop_proof', 'ES256 needs an EC P-256 jwk')
    }
    bare = { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y }
  } else if (header.alg === 'EdDSA' || header.alg === 'Ed25519') {
    if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') throw new DpopProofError('invalid_dpop_proof', 'EdDSA needs an OKP Ed25519 jwk')
    bare = { kty: 'OKP', crv: 'Ed25519', x: jwk.x }
  } else {
    throw new DpopProofError('invalid_dpop_proof', 'alg not allowed')
  }
  const id = `${bare.kty}.${bare.crv}.${bare.x}.${bare.y ?? ''}`
  const hit = cache.get(id)
  if (hit) return hit
  let key: KeyObject
  try {
    // Refuses a point that is not on the curve, or members of the wrong length.
    key = createPublicKey({ key: bare, format: 'jwk' })
  } catch {
    throw new DpopProofError('invalid_dpop_proof', 'jwk is not a valid public key')
  }
  const entry = { jkt: await calculateJwkThumbprint(bare, 'sha256'), key }
  cache.set(id, entry)
  if (cache.size > KEY_CACHE_SIZE) cache.delete(cache.keys().next().value!)
  return entry
}

/**
 * Server nonces (RFC 9449 §8) without shared state: the nonce of a period is
 * an HMAC of the period's number under a secret every instance derives from
 * the signing key, so every instance issues and accepts the same nonces. A
 * nonce is accepted during its period and the next (a client that just got
 * one is never refused because the period turned).
 */
function createNonces(secret: Buffer, now: () => number, periodMs: number): { current(): string; accepts(nonce: string): boolean } {
  const memo = new Map<number, Buffer>()
  const of = (period: number): Buffer => {
    let mac = memo.get(period)
    if (!mac) {
      mac = createHmac('sha256', secret).update(`dpop-nonce v1\n${period}`).digest()
      memo.set(period, mac)
      if (memo.size > 4) memo.delete(memo.keys().next().value!)
    }
    return mac
  }
  return {
    current: () => of(Math.floor(now() / periodMs)).toString('base64url'),
    accepts(nonce) {
      if (!/^[A-Za-z0-9_-]{43}$/.test(nonce)) return false
      const given = Buffer.from(nonce, 'base64url')
      const period = Math.floor(now() / periodMs)
      return timingSafeEqual(given, of(period)) || timingSafeEqual(given, of(period - 1))
    },
  }
}

/**
 * The DPoP proof verifier. Checks, in RFC 9449 §4.3's order: a single compact
 * JWS (the caller counts headers); `typ` is `dpop+jwt`; `alg` one of
 * {@link DPOP_ALGORITHMS}; `jwk` a public key of that algorithm; the
 * signature (jose); `jti`, `htm`, `htu`, `iat` present; `htm` the method;
 * `htu` the request URL (normalised, without query and fragment); `iat`
 * within {@link DPOP_IAT_WINDOW_SECONDS}; `ath` the hash of the access token
 * on resource requests; the nonce when required. The `jti` replay check is the
 * caller's, with {@link VerifiedProof.replayKey}, in the store.
 */
export function createDpopVerifier(options: { nonceSecret: Buffer; now: () => number; nonces: boolean; nonceRotationMs?: number }): DpopVerifier {
  const { now } = options
  const nonces = createNonces(options.nonceSecret, now, options.nonceRotationMs ?? DEFAULT_DPOP_NONCE_ROTATION_MS)
  const keys = new Map<string, CachedKey>()

  return {
    noncesRequired: options.nonces,
    nonce: () => nonces.current(),

    async verify(proof, target) {
      if (proof.length > MAX_DPOP_PROOF_LENGTH) throw new DpopProofError('invalid_dpop_proof', 'proof too long')
      let found: CachedKey | undefined
      let payload: Record<string, unknown>
      try {
        const verified = await jwtVerify(
          proof,
          async (header) => {
            found = await publicKeyOf(header, keys)
            return found.key
          },
          {
            typ: DPOP_TYP,
            algorithms: [...DPOP_ALGORITHMS],
            // exp or nbf, if a client adds them, are checked against the same clock.
            currentDate: new Date(now()),
          },
        )
        payload = verified.payload as Record<string, unknown>
      } catch (err) {
        if (err instanceof DpopProofError) throw err
        // jose's own refusals (JOSEError: bad typ or alg, bad signature, malformed JWS or JSON, crit)
        // and anything else a hostile proof might provoke: always a 400/401, never a 500.
        const code = (err as { code?: unknown }).code
        throw new DpopProofError('invalid_dpop_proof', typeof code === 'string' ? code : 'not a valid JWS')
      }
      const { jti, htm, htu, iat, ath, nonce } = payload
      if (typeof jti !== 'string' || jti.length === 0 || jti.length > MAX_JTI_LENGTH) throw new DpopProofError('invalid_dpop_proof', 'jti missing or too long')
      if (typeof htm !== 'string' || htm !== target.method) throw new DpopProofError('invalid_dpop_proof', 'htm is not the request method')
      const proofUrl = typeof htu === 'string' ? normalizeHtu(htu) : undefined
      if (proofUrl === undefined) throw new DpopProofError('invalid_dpop_proof', 'htu missing or not an http(s) URL')
      const path = target.path.split(/[?#]/)[0]!
      if (!target.origins.some((origin) => normalizeHtu(`${origin}${path}`) === proofUrl)) {
        throw new DpopProofError('invalid_dpop_proof', 'htu is not this request\'s URL')
      }
      if (typeof iat !== 'number' || !Number.isFinite(iat)) throw new DpopProofError('invalid_dpop_proof', 'iat missing')
      const nowSec = now() / 1000
      if (Math.abs(nowSec - iat) > DPOP_IAT_WINDOW_SECONDS) throw new DpopProofError('invalid_dpop_proof', 'iat outside the accepted window')
      if (target.accessToken !== undefined) {
        if (typeof ath !== 'string' || ath !== accessTokenHash(target.accessToken)) throw new DpopProofError('invalid_dpop_proof', 'ath is not the hash of the access token')
      }
      if (options.nonces && (typeof nonce !== 'string' || !nonces.accepts(nonce))) {
        throw new DpopProofError('use_dpop_nonce', nonce === undefined ? 'no nonce' : 'stale or unknown nonce')
      }
      const { jkt } = found!
      return {
        jkt,
        replayKey: createHash('sha256').update(`${jkt}\n${jti}`).digest('hex'),
        replayExpiresAt: Math.ceil((iat + DPOP_IAT_WINDOW_SECONDS) * 1000) + 1000,
      }
    },
  }
}
