import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { HttpError } from '../errors.ts'
import { createAuthCache, type Auth, type AuthCache } from '../auth/auth-cache.ts'
import { AccessTokenError, type AccessTokenClaims } from '../tokens/access-token.ts'
import { DPOP_ALGORITHMS, DpopProofError } from '../tokens/dpop.ts'
import { DPOP_NONCE_HEADER } from './dpop.ts'

/** `realm` of every `WWW-Authenticate` challenge. */
export const REALM = 'silent-refresh-demo'

/** RFC 6750 §2.1 `b64token`. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/
const MAX_TOKEN_LENGTH = 4096

export type { Auth } from '../auth/auth-cache.ts'

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified access token and its session; set by `app.authenticate`. */
    auth: Auth | null
  }
  interface FastifyInstance {
    /** `onRequest` hook for protected routes: RFC 6750 bearer authentication. */
    authenticate: (request: FastifyRequest, reply: FastifyReply) => Promise<void>
    /** Verified tokens and their sessions (auth/auth-cache.ts), kept current by the store's revocation feed. */
    authCache: AuthCache
  }
}

/**
 * The verified claims of a request on a protected route (after `app.authenticate`).
 * Throws the RFC 6750 401 if the route was wired without authentication, rather
 * than letting a missing identity through as `undefined`.
 */
export function authOf(request: FastifyRequest): Auth {
  if (request.auth === null) throw challenge(401, null, 'This route needs an access token: Authorization: Bearer <token>.')
  return request.auth
}

/** Authentication schemes of `WWW-Authenticate` challenges. */
export type Scheme = 'Bearer' | 'DPoP'

/** `algs` of DPoP challenges (RFC 9449 §7.1): the proof algorithms this server accepts. */
const DPOP_ALGS = `algs="${DPOP_ALGORITHMS.join(' ')}"`

/**
 * RFC 6750 §3 challenge (RFC 9449 §7.1 for the DPoP scheme, with `algs`).
 * Descriptions are ours and never contain the token.
 */
export function challenge(
  status: 400 | 401,
  error: 'invalid_request' | 'invalid_token' | 'invalid_dpop_proof' | 'use_dpop_nonce' | null,
  description: string,
  scheme: Scheme = 'Bearer',
  headers: Record<string, string> = {},
): HttpError {
  const params = [`realm="${REALM}"`]
  if (error) params.push(`error="${error}"`, `error_description="${description}"`)
  if (scheme === 'DPoP') params.push(DPOP_ALGS)
  return new HttpError(status, error ?? 'unauthorized', description, { ...headers, 'www-authenticate': `${scheme} ${params.join(', ')}` })
}

function countAuthorizationHeaders(rawHeaders: string[]): number {
  let count = 0
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]?.toLowerCase() === 'authorization') count++
  }
  return count
}

async function authenticatePlugin(app: FastifyInstance): Promise<void> {
  app.decorateRequest('auth', null)
  const cache = createAuthCache(app.settings.authCacheSize)
  app.decorate('authCache', cache)

  // Every revocation, from any instance, reaches the cache; while the feed is down nothing is cached.
  let unsubscribe: (() => Promise<void>) | undefined
  app.addHook('onReady', async () => {
    unsubscribe = await app.store.watchRevocations({
      revoked: (sid) => cache.revoked(sid),
      live: (isLive) => {
        if (isLive !== cache.live) app.log.info({ live: isLive }, isLive ? 'revocation feed live: caching verified tokens' : 'revocation feed interrupted: every request checks the store')
        cache.setLive(isLive)
      },
    })
  })
  app.addHook('onClose', async () => {
    cache.setLive(false)
    await unsubscribe?.()
  })

  const dpopMode = app.settings.dpop
  /** The 401 without an error code (no credentials, or an unknown scheme): every scheme this server takes (RFC 9110 §11.6.1). */
  const NEEDS_TOKEN = 'This route needs an access token: Authorization: Bearer <token>, or DPoP <token> with a DPoP proof.'
  const missing = (): HttpError => {
    if (dpopMode === 'off') return challenge(401, null, 'This route needs an access token: Authorization: Bearer <token>.')
    if (dpopMode === 'required') return challenge(401, null, 'This route needs a DPoP-bound access token: Authorization: DPoP <token> with a DPoP proof.', 'DPoP')
    const error = challenge(401, null, NEEDS_TOKEN)
    error.headers['www-authenticate'] += `, DPoP realm="${REALM}", ${DPOP_ALGS}`
    return error
  }

  /** Verifies a token not seen before: signature and claims, then its session (cached while the feed is live). */
  async function verify(request: FastifyRequest, token: string, scheme: Scheme): Promise<Auth> {
    const generation = cache.generation
    const challenge_ = (description: string): HttpError => challenge(401, 'invalid_token', description, scheme)
    let claims: AccessTokenClaims
    try {
      claims = app.accessTokens.verify(token)
    } catch (err) {
      if (err instanceof AccessTokenError) {
        request.log.info({ reason: err.reason, detail: err.detail }, 'access token rejected')
        throw challenge_(err.message + '.')
      }
      throw err
    }
    let session = cache.session(claims.sid)
    if (!session) {
      session = await app.store.findSession(claims.sid)
      if (session) cache.rememberSession(session, generation)
    }
    if (!session) throw challenge_('The access token is invalid.')
    // A revoked family (logout, reuse detected) ends its access tokens at once, not at exp.
    if (session.revokedAt !== null || app.now() >= session.expiresAt) throw challenge_('The session has ended.')
    // The token names a session and a user: they must belong together.
    if (session.userId !== claims.sub) {
      request.log.warn({ sid: claims.sid }, 'access token rejected: sub is not the user of its session')
      throw challenge_('The access token is invalid.')
    }
    const auth = { ...claims, username: session.username }
    cache.remember(token, auth, generation)
    return auth
  }

  app.decorate('authenticate', async function authenticate(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    // Node keeps only the first of repeated Authorization headers; the raw list shows them all.
    if (countAuthorizationHeaders(request.raw.rawHeaders) > 1) {
      throw challenge(400, 'invalid_request', 'Send exactly one Authorization header.')
    }
    const header = request.headers.authorization
    if (header === undefined || header.trim() === '') throw missing()
    const match = /^(\S+)(?:[ ]+(.*))?$/.exec(header.trim())
    const given = match?.[1]?.toLowerCase()
    const scheme: Scheme | undefined = given === 'bearer' ? 'Bearer' : given === 'dpop' && dpopMode !== 'off' ? 'DPoP' : undefined
    if (!scheme) throw missing()
    const token = (match![2] ?? '').trim()
    if (token === '') throw challenge(400, 'invalid_request', `The ${scheme} token is empty.`, scheme)
    if (!B64TOKEN.test(token)) throw challenge(400, 'invalid_request', 'The Authorization header is malformed.', scheme)
    if (token.length > MAX_TOKEN_LENGTH) throw challenge(401, 'invalid_token', 'The access token is invalid.', scheme)
    if (scheme === 'Bearer' && dpopMode === 'required') throw challenge(401, 'invalid_token', 'This server takes DPoP-bound access tokens only.', 'DPoP')

    // The hot path: a token verified before, still unexpired, of a session not revoked since.
    const auth = cache.get(token, app.now()) ?? (await verify(request, token, scheme))

    if (scheme === 'Bearer') {
      // RFC 9449 §7.2: a DPoP-bound token is worthless without its key, so never a bearer token.
      if (auth.cnf) throw challenge(401, 'invalid_token', 'The access token is DPoP-bound: send it as Authorization: DPoP <token> with a DPoP proof.', 'DPoP')
      request.auth = auth
      return
    }

    // Authorization: DPoP: a bound token, and a fresh proof by its key for this request.
    if (!auth.cnf) throw challenge(401, 'invalid_token', 'The access token is not DPoP-bound: send it as Authorization: Bearer <token>.', 'DPoP')
    try {
      const proof = await app.dpop.atResource(request, reply, token)
      if (proof.jkt !== auth.cnf.jkt) {
        request.log.info({ sid: auth.sid }, 'DPoP proof rejected: signed by another key than the token is bound to')
        throw challenge(401, 'invalid_token', 'The DPoP proof is not signed by the key the access token is bound to.', 'DPoP')
      }
      // Last, so that only otherwise valid proofs take a row in the replay cache.
      await app.dpop.record(proof)
    } catch (err) {
      if (!(err instanceof DpopProofError)) throw err
      request.log.info({ reason: err.code, detail: err.detail }, 'DPoP proof rejected')
      const headers: Record<string, string> = app.settings.dpopNonce ? { [DPOP_NONCE_HEADER]: app.dpop.verifier.nonce() } : {}
      throw challenge(401, err.code, err.message, 'DPoP', headers)
    }
    request.auth = auth
  })
}

export default fp(authenticatePlugin, { name: 'authenticate', dependencies: ['services', 'dpop'] })
