import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { HttpError } from '../../errors.ts'
import { ClientId, MAX_REFRESH_TOKEN_LENGTH } from '../../schemas.ts'
import { hashRefreshToken, isWellFormedRefreshToken } from '../../tokens/refresh-token.ts'
import { REFRESH_COOKIE, clearRefreshCookie, noStore } from './token-response.ts'

const LogoutBody = Type.Object(
  {
    refresh_token: Type.Optional(Type.String({ maxLength: MAX_REFRESH_TOKEN_LENGTH })),
    client_id: Type.Optional(ClientId),
  },
  { additionalProperties: false },
)

/**
 * `POST /auth/logout` — revokes the family of the refresh token given in the
 * body (form or JSON) or the cookie, clears the cookie, answers 204. Idempotent:
 * an unknown, already revoked or missing token is also a 204.
 */
const logoutRoute: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/logout',
    {
      config: { rateLimit: { max: app.settings.rateLimits.refreshPerIp.max, timeWindow: app.settings.rateLimits.refreshPerIp.windowMs } },
      schema: { body: LogoutBody },
      // A logout may come without any body (cookie mode); that is an empty object, not a 400.
      preValidation: async (request) => {
        if (request.body === undefined || request.body === null) request.body = {}
      },
    },
    async (request, reply) => {
      const token = request.body.refresh_token ?? request.cookies[REFRESH_COOKIE]
      if (token !== undefined && isWellFormedRefreshToken(token)) {
        // A session bound to a DPoP key ends only with a proof by that key: a stolen refresh token
        // alone can neither refresh nor end it (RFC 9449 §5). Nothing is revoked otherwise.
        if (app.dpop.mode !== 'off') {
          const bound = await app.store.dpopJktOfToken(hashRefreshToken(token))
          if (bound) {
            const jkt = await app.dpop.atTokenEndpoint(request, reply)
            if (jkt !== bound) {
              request.log.warn('logout refused: the session is DPoP-bound and no proof by its key came with the request')
              throw new HttpError(400, 'invalid_dpop_proof', 'This session is bound to a DPoP key: send a DPoP proof signed with it.')
            }
          }
        }
        const found = await app.store.revokeFamilyByToken(hashRefreshToken(token), app.now(), 'logout', app.monitoring.auditContext(request))
        if (found) {
          request.log.info('logout: token family revoked')
          app.monitoring.loggedOut()
        }
      }
      clearRefreshCookie(reply)
      noStore(reply)
      return reply.code(204).send()
    },
  )
}

export default logoutRoute
