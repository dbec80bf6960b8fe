import fp from 'fastify-plugin'
import { Type, type FastifyPluginAsyncTypebox, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { HttpError } from '../errors.ts'
import { authOf, challenge } from '../plugins/authenticate.ts'

/** What the next `POST /auth/token` answers: 503 (transient: the SDK retries) or 400 invalid_grant (terminal). */
export type RefreshFailure = 'transient' | 'terminal'

declare module 'fastify' {
  interface FastifyInstance {
    /** Counters shown by the demo page: what `POST /auth/token` answered since start. */
    demoStats: { refreshes: number; refreshFailures: number }
  }
}

/**
 * Levers for the demo page, all behind a valid access token (the server is a demo):
 *
 * - `POST /demo/expire` — the session's access tokens issued so far answer 401
 *   from now on, as if they had expired; the refresh token keeps working.
 * - `POST /demo/fail-next-refresh` `{ mode?: 'transient' | 'terminal' }` — the
 *   next `POST /auth/token` answers 503 `temporarily_unavailable` (default) or
 *   400 `invalid_grant`, without touching the refresh token.
 * - `GET /demo/stats` — `{ refreshes, refreshFailures }` answered by `POST /auth/token`.
 *
 * Registered with `fastify-plugin` before the auth and API routes, so its hooks see them.
 */
const demoRoutes: FastifyPluginAsyncTypebox = async (app) => {
  /** Per session (`sid`): tokens issued before this second, or with these ids, are treated as expired. */
  const expired = new Map<string, { beforeSec: number; jtis: Set<string> }>()
  let failNext: RefreshFailure | null = null
  app.decorate('demoStats', { refreshes: 0, refreshFailures: 0 })

  const isTokenRequest = (method: string, url: string) => method === 'POST' && url.split('?')[0] === '/auth/token'

  app.addHook('onRequest', async (request) => {
    if (!failNext || !isTokenRequest(request.method, request.url)) return
    const mode = failNext
    failNext = null
    request.log.info({ mode }, 'demo: failing this refresh on purpose')
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
    if (!isTokenRequest(request.method, request.url)) return
    if (reply.statusCode === 200) app.demoStats.refreshes++
    else app.demoStats.refreshFailures++
  })

  await app.register(
    async (demo) => {
      demo.get(
        '/stats',
        {
          schema: {
            response: { 200: Type.Object({ refreshes: Type.Integer(), refreshFailures: Type.Integer() }, { additionalProperties: false }) },
          },
        },
        async (_request, reply) => {
          reply.header('cache-control', 'no-store')
          return app.demoStats
        },
      )

      await demo.register(async (scope) => {
        const levers = scope.withTypeProvider<TypeBoxTypeProvider>()
        levers.addHook('onRequest', app.authenticate)

        levers.post('/expire', async (request, reply) => {
          const { sid, jti } = authOf(request)
          const cut = expired.get(sid) ?? { beforeSec: 0, jtis: new Set<string>() }
          // Every token of an earlier second, and the caller's own (the tabs share it);
          // one issued later in this same second (a refresh racing the click) stays valid.
          cut.beforeSec = Math.floor(app.now() / 1000)
          cut.jtis.add(jti)
          expired.set(sid, cut)
          return reply.code(204).send()
        })

        levers.post(
          '/fail-next-refresh',
          {
            schema: {
              body: Type.Object(
                { mode: Type.Optional(Type.Union([Type.Literal('transient'), Type.Literal('terminal')])) },
                { additionalProperties: false },
              ),
            },
          },
          async (request, reply) => {
            failNext = request.body?.mode ?? 'transient'
            return reply.code(204).send()
          },
        )
      })
    },
    { prefix: '/demo' },
  )
}

export default fp(demoRoutes, { name: 'demo-routes', dependencies: ['authenticate'] })
