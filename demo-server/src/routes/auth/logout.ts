import type { FastifyInstance } from 'fastify'
import { hashRefreshToken, isWellFormedRefreshToken } from '../../tokens/refresh-token.ts'
import { REFRESH_COOKIE, clearRefreshCookie, noStore } from './token-response.ts'

interface LogoutBody {
  refresh_token?: string
  client_id?: string
}

/**
 * `POST /auth/logout` — revokes the family of the refresh token given in the
 * body (form or JSON) or the cookie, clears the cookie, answers 204. Idempotent:
 * an unknown, already revoked or missing token is also a 204.
 */
export default async function logoutRoute(app: FastifyInstance): Promise<void> {
  app.post<{ Body: LogoutBody }>(
    '/logout',
    {
      config: { rateLimit: { max: app.settings.rateLimits.refreshPerIp.max, timeWindow: app.settings.rateLimits.refreshPerIp.windowMs } },
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          properties: {
            refresh_token: { type: 'string', maxLength: 512 },
            client_id: { type: 'string', maxLength: 128 },
          },
        },
      },
      // A logout may come without any body (cookie mode); that is an empty object, not a 400.
      preValidation: async (request) => {
        if (request.body === undefined || request.body === null) request.body = {}
      },
    },
    async (request, reply) => {
      const token = request.body.refresh_token ?? request.cookies[REFRESH_COOKIE]
      if (token !== undefined && isWellFormedRefreshToken(token)) {
        const found = await app.store.revokeFamilyByToken(hashRefreshToken(token), app.now(), 'logout')
        if (found) request.log.info('logout: token family revoked')
      }
      clearRefreshCookie(reply)
      noStore(reply)
      return reply.code(204).send()
    },
  )
}
