/**
 * DPoP proofs for tests (RFC 9449 §4.2), signed with jose: a client key pair
 * and a function that makes a proof for a request, with any header or claim
 * overridden to test each rule.
 */
import { createHash, randomUUID } from 'node:crypto'
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose'

export interface DpopClientKey {
  alg: 'ES256' | 'EdDSA'
  privateKey: CryptoKey
  /** The public JWK as it goes in the proof's header. */
  publicJwk: JWK
  /** Its RFC 7638 thumbprint: what bound tokens carry in `cnf.jkt`. */
  jkt: string
}

/** A client key pair (ES256 unless asked), as the SDK would make one. */
export async function dpopKey(alg: 'ES256' | 'EdDSA' = 'ES256'): Promise<DpopClientKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true })
  const full = await exportJWK(publicKey)
  const publicJwk: JWK = alg === 'ES256' ? { kty: 'EC', crv: 'P-256', x: full.x!, y: full.y! } : { kty: 'OKP', crv: 'Ed25519', x: full.x! }
  return { alg, privateKey, publicJwk, jkt: await calculateJwkThumbprint(publicJwk, 'sha256') }
}

/** `ath` of an access token. */
export function ath(accessToken: string): string {
  return createHash('sha256').update(accessToken).digest('base64url')
}

export interface ProofOptions {
  htm: string
  /** The full URL, e.g. `http://localhost/auth/token` (what `app.inject` is reached at). */
  htu: string
  /** Epoch ms the proof is made at (its `iat`); the tests' frozen clock. */
  now: number
  /** The access token of a resource request: sets `ath`. */
  accessToken?: string
  nonce?: string
  /** Claims to add, override, or (with `undefined`) remove. */
  claims?: Record<string, unknown>
  /** Header parameters to add, override, or (with `undefined`) remove. */
  header?: Record<string, unknown>
  /** Sign with this key instead (the header still names `key.publicJwk` unless overridden). */
  signWith?: CryptoKey
}

/** A DPoP proof JWT for one request. */
export async function makeProof(key: DpopClientKey, options: ProofOptions): Promise<string> {
  const claims: Record<string, unknown> = {
    jti: randomUUID(),
    htm: options.htm,
    htu: options.htu,
    iat: Math.floor(options.now / 1000),
    ...(options.accessToken === undefined ? {} : { ath: ath(options.accessToken) }),
    ...(options.nonce === undefined ? {} : { nonce: options.nonce }),
    ...options.claims,
  }
  const header: Record<string, unknown> = { alg: key.alg, typ: 'dpop+jwt', jwk: key.publicJwk, ...options.header }
  for (const [k, v] of Object.entries(claims)) if (v === undefined) delete claims[k]
  for (const [k, v] of Object.entries(header)) if (v === undefined) delete header[k]
  if (header.crit === undefined) return new SignJWT(claims).setProtectedHeader(header as { alg: string }).sign(options.signWith ?? key.privateKey)
  // jose will not sign with a crit it does not know: sign by hand (ES256 only).
  const input = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`
  const signature = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, options.signWith ?? key.privateKey, new TextEncoder().encode(input))
  return `${input}.${Buffer.from(signature).toString('base64url')}`
}

/** The claims of a JWT, unverified (to look at what the server issued). */
export function claimsOf(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>
}
