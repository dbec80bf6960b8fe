import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance } from 'fastify'
import { HttpError } from '../../errors.ts'
import { challenge } from '../../plugins/authenticate.ts'

interface SlowQuery {
  delay_ms?: string
}

const meSchema = {
  type: 'object',
  required: ['sub', 'username', 'sid', 'exp'],
  additionalProperties: false,
  properties: {
    sub: { type: 'string' },
    username: { type: 'string' },
    sid: { type: 'string' },
    exp: { type: 'integer' },
  },
} as const

/** Default delay of `GET /api/slow`, ms. */
export const DEFAULT_SLOW_DELAY_MS = 1000

/**
 * `/api/*`: protected routes (RFC 6750 bearer). Register with `{ prefix: '/api' }`.
 * Every route in this scope runs `app.authenticate` first.
 */
export default async function apiRoutes(app: FastifyInstance): Promise<void> {
  app.addHook('onRequest', app.authenticate)
  app.addHook('onSend', async (_request, reply) => {
    reply.header('cache-control', 'no-store')
  })

  /** `GET /api/me` — who the access token belongs to. */
  app.get('/me', { schema: { response: { 200: meSchema } } }, async (request) => {
    const auth = request.auth!
    const user = await app.store.findUserById(auth.sub)
    // The account was deleted after the token was issued.
    if (!user) throw challenge(401, 'invalid_token', 'The access token is invalid.')
    return { sub: auth.sub, username: user.username, sid: auth.sid, exp: auth.exp }
  })

  /**
   * `GET /api/slow?delay_ms=1500` — like `/api/me` but answers after a delay
   * (default 1000, at most `maxSlowDelayMs`), to let a burst of requests
   * outlive an access token in race demos. The token is checked on arrival.
   */
  app.get<{ Querystring: SlowQuery }>(
    '/slow',
    {
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          // Query values are strings and coercion is off: the pattern is the type check.
          properties: { delay_ms: { type: 'string', pattern: '^[0-9]{1,6}$' } },
        },
        response: {
          200: {
            type: 'object',
            required: ['sub', 'sid', 'delay_ms'],
            additionalProperties: false,
            properties: { sub: { type: 'string' }, sid: { type: 'string' }, delay_ms: { type: 'integer' } },
          },
        },
      },
    },
    async (request) => {
      const delay = request.query.delay_ms === undefined ? DEFAULT_SLOW_DELAY_MS : Number(request.query.delay_ms)
      if (delay > app.settings.maxSlowDelayMs) {
        throw new HttpError(400, 'invalid_request', `delay_ms must be at most ${app.settings.maxSlowDelayMs}.`)
      }
      await sleep(delay)
      return { sub: request.auth!.sub, sid: request.auth!.sid, delay_ms: delay }
    },
  )
}
