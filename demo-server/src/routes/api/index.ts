import { setTimeout as sleep } from 'node:timers/promises'
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { HttpError } from '../../errors.ts'
import { authOf } from '../../plugins/authenticate.ts'

const Me = Type.Object(
  { sub: Type.String(), username: Type.String(), sid: Type.String(), exp: Type.Integer() },
  { additionalProperties: false },
)

const SlowQuery = Type.Object(
  // Query values are strings and coercion is off: the pattern is the type check.
  { delay_ms: Type.Optional(Type.String({ pattern: '^[0-9]{1,6}$' })) },
  { additionalProperties: false },
)

const Slow = Type.Object({ sub: Type.String(), sid: Type.String(), delay_ms: Type.Integer() }, { additionalProperties: false })

/** Default delay of `GET /api/slow`, ms. */
export const DEFAULT_SLOW_DELAY_MS = 1000

/**
 * `/api/*`: protected routes (RFC 6750 bearer). Register with `{ prefix: '/api' }`.
 * Every route in this scope runs `app.authenticate` first.
 */
const apiRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.addHook('onRequest', (_request, reply, done) => {
    reply.header('cache-control', 'no-store')
    done()
  })
  app.addHook('onRequest', app.authenticate)

  /** `GET /api/me` — who the access token belongs to. */
  app.get('/me', { schema: { response: { 200: Me } } }, async (request) => {
    const { sub, username, sid, exp } = authOf(request)
    return { sub, username, sid, exp }
  })

  /**
   * `GET /api/slow?delay_ms=1500` — like `/api/me` but answers after a delay
   * (default 1000, at most `maxSlowDelayMs`), to let a burst of requests
   * outlive an access token in race demos. The token is checked on arrival.
   */
  app.get('/slow', { schema: { querystring: SlowQuery, response: { 200: Slow } } }, async (request) => {
    const { sub, sid } = authOf(request)
    const delay = request.query.delay_ms === undefined ? DEFAULT_SLOW_DELAY_MS : Number(request.query.delay_ms)
    if (delay > app.settings.maxSlowDelayMs) {
      throw new HttpError(400, 'invalid_request', `delay_ms must be at most ${app.settings.maxSlowDelayMs}.`)
    }
    await sleep(delay)
    return { sub, sid, delay_ms: delay }
  })
}

export default apiRoutes
