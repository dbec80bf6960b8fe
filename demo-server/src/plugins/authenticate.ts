import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { HttpError } from '../errors.ts'
import { createAuthCache, type Auth, type AuthCache } from '../auth/auth-cache.ts'
import { AccessTokenError, type AccessTokenClaims } from '../tokens/access-token.ts'

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

/** RFC 6750 §3 challenge. Descriptions are ours and never contain the token. */
export function challenge(status: 400 | 401, error: 'invalid_request' | 'invalid_token' | null, description: string): HttpError {
  const params = [`realm="${REALM}"`]
  if (error) params.push(`error="${error}"`, `error_description="${description}"`)
  return new HttpError(status, error ?? 'unauthorized', description, { 'www-authenticate': `Bearer ${params.join(', ')}` })
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

  /** Verifies a token not seen before: signature and claims, then its session (cached while the feed is live). */
  async function verify(request: FastifyRequest, token: string): Promise<Auth> {
    const generation = cache.generation
    let claims: AccessTokenClaims
    try {
      claims = app.accessTokens.verify(token)
    } catch (err) {
      if (err instanceof AccessTokenError) {
        request.log.info({ reason: err.reason, detail: err.detail }, 'access token rejected')
        throw challenge(401, 'invalid_token', err.message + '.')
      }
      throw err
    }
    let session = cache.session(claims.sid)
    if (!session) {
      session = await app.store.findSession(claims.sid)
      if (session) cache.rememberSession(session, generation)
    }
    if (!session) throw challenge(401, 'invalid_token', 'The access token is invalid.')
    // A revoked family (logout, reuse detected) ends its access tokens at once, not at exp.
    if (session.revokedAt !== null || app.now() >= session.expiresAt) throw challenge(401, 'invalid_token', 'The session has ended.')
    // The token names a session and a user: they must belong together.
    if (session.userId !== claims.sub) {
      request.log.warn({ sid: claims.sid }, 'access token rejected: sub is not the user of its session')
      throw challenge(401, 'invalid_token', 'The access token is invalid.')
    }
    const auth = { ...claims, username: session.username }
    cache.remember(token, auth, generation)
    return auth
  }

  app.decorate('authenticate', async function authenticate(request: FastifyRequest): Promise<void> {
    // Node keeps only the first of repeated Authorization headers; the raw list shows them all.
    if (countAuthorizationHeaders(request.raw.rawHeaders) > 1) {
      throw challenge(400, 'invalid_request', 'Send exactly one Authorization header.')
    }
    const header = request.headers.authorization
    if (header === undefined || header.trim() === '') {
      throw challenge(401, null, 'This route needs an access token: Authorization: Bearer <token>.')
    }
    const match = /^(\S+)(?:[ ]+(.*))?$/.exec(header.trim())
    if (!match || match[1]?.toLowerCase() !== 'bearer') {
      throw challenge(401, null, 'This route needs an access token: Authorization: Bearer <token>.')
    }
    const token = (match[2] ?? '').trim()
    if (token === '') throw challenge(400, 'invalid_request', 'The bearer token is empty.')
    if (!B64TOKEN.test(token)) throw challenge(400, 'invalid_request', 'The Authorization header is malformed.')
    if (token.length > MAX_TOKEN_LENGTH) throw challenge(401, 'invalid_token', 'The access token is invalid.')

    // The hot path: a token verified before, still unexpired, of a session not revoked since.
    request.auth = cache.get(token, app.now()) ?? (await verify(request, token))
  })
}

export default fp(authenticatePlugin, { name: 'authenticate', dependencies: ['services'] })
