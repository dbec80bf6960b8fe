import formbody from '@fastify/formbody'
import fp from 'fastify-plugin'
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { HttpError } from '../errors.ts'
import { authOf, challenge } from '../plugins/authenticate.ts'
import { hashRefreshToken, isWellFormedRefreshToken } from '../tokens/refresh-token.ts'
import { REFRESH_COOKIE } from './auth/token-response.ts'

/** What the session's next `POST /auth/token` answers: 503 (transient: the SDK retries) or 400 invalid_grant (terminal). */
export type RefreshFailure = 'transient' | 'terminal'

/** Sessions the levers remember at most (each map below); the oldest is forgotten first. */
export const MAX_DEMO_SESSIONS = 10_000

/** The route the levers act on, as registered (matched by route, never by the raw URL, which can be encoded). */
const TOKEN_ROUTE = '/auth/token'

const FailBody = Type.Object(
  { mode: Type.Optional(Type.Union([Type.Literal('transient'), Type.Literal('terminal')])) },
  { additionalProperties: false },
)
const Stats = Type.Object({ refreshes: Type.Integer(), refreshFailures: Type.Integer() }, { additionalProperties: false })

/** A Map that forgets its oldest entry beyond {@link MAX_DEMO_SESSIONS}: the levers must not grow without bound. */
function boundedSet<V>(map: Map<string, V>, key: string, value: V): void {
  map.delete(key)
  map.set(key, value)
  if (map.size > MAX_DEMO_SESSIONS) map.delete(map.keys().next().value!)
}

/**
 * Levers for the demo page, registered only when `demoLevers` is on (`npm run demo`
 * turns it on; a deployment leaves it off and these routes do not exist). Every
 * lever needs a valid access token and acts on that token's session only:
 *
 * - `POST /demo/expire` — the session's access tokens issued so far answer 401
 *   from now on, as if they had expired; the refresh token keeps working.
 * - `POST /demo/fail-next-refresh` `{ mode?: 'transient' | 'terminal' }` — the
 *   session's next `POST /auth/token` answers 503 `temporarily_unavailable`
 *   (default) or 400 `invalid_grant`, without touching the refresh token.
 * - `GET /demo/stats` — `{ refreshes, refreshFailures }`: what `POST /auth/token`
 *   answered for this session.
 *
 * The body of a lever may be empty whatever its content type (an HTTP client
 * often sends a form or JSON content type with no body).
 *
 * Registered with `fastify-plugin` before the auth and API routes, so its hooks see them.
 */
const demoRoutes: FastifyPluginAsyncTypebox = async (app) => {
  /** Per session (`sid`): tokens issued before this second, or with these ids, are treated as expired. */
  const expired = new Map<string, { beforeSec: number; jtis: Set<string> }>()
  /** Per session: how its next refresh fails. */
  const failNext = new Map<string, RefreshFailure>()
  /** Per session: what its refreshes were answered. */
  const stats = new Map<string, { refreshes: number; refreshFailures: number }>()
  /** The session of each refresh request in flight, found before the route runs. */
  const sessionOf = new WeakMap<FastifyRequest, string>()
  const cookieMode = app.settings.refreshTokenTransport === 'cookie'

  const isTokenRoute = (request: FastifyRequest): boolean => request.method === 'POST' && request.routeOptions.url === TOKEN_ROUTE

  // Before the token route runs (body parsed): find the presented token's session; fail it if armed.
  app.addHook('preHandler', async (request) => {
    if (!isTokenRoute(request)) return
    const body = request.body as { refresh_token?: unknown } | undefined
    const token = cookieMode ? request.cookies[REFRESH_COOKIE] : body?.refresh_token
    if (typeof token !== 'string' || !isWellFormedRefreshToken(token)) return
    const sid = await app.store.familyIdOfToken(hashRefreshToken(token))
    if (sid === undefined) return
    sessionOf.set(request, sid)
    const mode = failNext.get(sid)
    if (mode === undefined) return
    failNext.delete(sid)
    request.log.info({ sid, mode }, 'demo: failing this refresh on purpose')
    if (mode === 'terminal') throw new HttpError(400, 'invalid_grant', 'Demo: this refresh was made to fail for good.')
    throw new HttpError(503, 'temporarily_unavailable', 'Demo: this refresh was made to fail; try again.', { 'retry-after': '1' })
  })

  // After `app.authenticate` (an onRequest hook of the protected scopes) has set request.auth.
  app.addHook('preHandler', async (request) => {
    const auth = request.auth
    const cut = auth && expired.get(auth.sid)
    if (cut && (auth.iat < cut.beforeSec || cut.jtis.has(auth.jti))) {
      throw challenge(401, 'invalid_token', 'The access token was expired by the demo.')
    }
  })

  app.addHook('onResponse', async (request, reply) => {
    const sid = sessionOf.get(request)
    if (sid === undefined) return
    const counts = stats.get(sid) ?? { refreshes: 0, refreshFailures: 0 }
    if (reply.statusCode === 200) counts.refreshes++
    else counts.refreshFailures++
    boundedSet(stats, sid, counts)
  })

  const leverRoutes: FastifyPluginAsyncTypebox = async (levers) => {
    levers.addHook('onRequest', app.authenticate)
    // An empty body is no body, whatever the content type says (axios sends a form type; fetch users often JSON).
    await levers.register(formbody)
    levers.removeContentTypeParser('application/json')
    const json = levers.getDefaultJsonParser('error', 'error')
    levers.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
      const text = body.toString()
      if (text === '') done(null, undefined)
      else json(request, text, done)
    })
    levers.addHook('preValidation', async (request) => {
      if (request.body === undefined || request.body === null) request.body = {}
    })

    levers.get('/stats', { schema: { response: { 200: Stats } } }, async (request, reply) => {
      reply.header('cache-control', 'no-store')
      return stats.get(authOf(request).sid) ?? { refreshes: 0, refreshFailures: 0 }
    })

    levers.post('/expire', async (request, reply) => {
      const { sid, jti } = authOf(request)
      const cut = expired.get(sid) ?? { beforeSec: 0, jtis: new Set<string>() }
      // Every token of an earlier second, and the caller's own (the tabs share it);
      // one issued later in this same second (a refresh racing the click) stays valid.
      cut.beforeSec = Math.floor(app.now() / 1000)
      cut.jtis.add(jti)
      boundedSet(expired, sid, cut)
      return reply.code(204).send()
    })

    levers.post('/fail-next-refresh', { schema: { body: FailBody } }, async (request, reply) => {
      boundedSet(failNext, authOf(request).sid, request.body.mode ?? 'transient')
      return reply.code(204).send()
    })
  }
  await app.register(leverRoutes, { prefix: '/demo' })
}

export default fp(demoRoutes, { name: 'demo-routes', dependencies: ['authenticate'] })
