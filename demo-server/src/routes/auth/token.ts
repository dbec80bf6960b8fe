import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { HttpError } from '../../errors.ts'
import { ClientId, MAX_REFRESH_TOKEN_LENGTH, TokenResponse } from '../../schemas.ts'
import { hashRefreshToken, isWellFormedRefreshToken } from '../../tokens/refresh-token.ts'
import { REFRESH_COOKIE, clearRefreshCookie, noStore, sendTokens } from './token-response.ts'

const TokenBody = Type.Object(
  {
    grant_type: Type.String({ minLength: 1, maxLength: 64 }),
    refresh_token: Type.Optional(Type.String({ maxLength: MAX_REFRESH_TOKEN_LENGTH })),
    client_id: Type.Optional(ClientId),
  },
  { additionalProperties: false },
)

/**
 * One description for unknown, malformed, expired, revoked and reused tokens
 * (RFC 6749 §5.2 `invalid_grant`): the answer tells an attacker nothing about
 * which tokens exist.
 */
export const INVALID_GRANT_DESCRIPTION = 'The refresh token is invalid, expired or revoked.'

/** `POST /auth/token` — `grant_type=refresh_token` (RFC 6749 §6), form or JSON → rotated pair. */
const tokenRoute: FastifyPluginAsyncTypebox = async (app) => {
  const { refreshPerIp } = app.settings.rateLimits
  const cookieMode = app.settings.refreshTokenTransport === 'cookie'

  app.post(
    '/token',
    {
      config: { rateLimit: { max: refreshPerIp.max, timeWindow: refreshPerIp.windowMs } },
      schema: { body: TokenBody, response: { 200: TokenResponse } },
    },
    async (request, reply) => {
      noStore(reply)
      const { grant_type: grantType, refresh_token: bodyToken } = request.body
      if (grantType !== 'refresh_token') {
        throw new HttpError(400, 'unsupported_grant_type', 'Only grant_type=refresh_token is supported here.')
      }
      if (cookieMode && bodyToken !== undefined) {
        throw new HttpError(400, 'invalid_request', 'In cookie mode the refresh token is read from the cookie; omit refresh_token.')
      }
      const presented = cookieMode ? request.cookies[REFRESH_COOKIE] : bodyToken
      if (presented === undefined || presented === '') {
        throw new HttpError(
          400,
          'invalid_request',
          cookieMode ? 'The refresh-token cookie is missing.' : 'refresh_token is required.',
        )
      }

      const invalidGrant = (): HttpError => {
        if (cookieMode) clearRefreshCookie(reply)
        return new HttpError(400, 'invalid_grant', INVALID_GRANT_DESCRIPTION)
      }
      if (!isWellFormedRefreshToken(presented)) throw invalidGrant()
      // The proof's key, or null: a family bound at login refuses anything but its own key (store.rotate).
      const dpopJkt = await app.dpop.atTokenEndpoint(request, reply)

      const now = app.now()
      // The child is derived from the presented token: a retry of this rotation names the same child.
      const next = app.childRefreshToken(presented)
      const result = await app.store.rotate({
        tokenHash: hashRefreshToken(presented),
        newTokenHash: hashRefreshToken(next),
        now,
        idleTtlMs: app.settings.refreshTokenTtl * 1000,
        graceMs: app.settings.refreshReuseGraceMs,
        dpopJkt,
        audit: app.monitoring.auditContext(request),
      })
      app.monitoring.refreshed(result, reply)

      switch (result.kind) {
        case 'rotated':
          if (result.replayed) request.log.info({ sid: result.familyId }, 'rotation retried within the window: the same refresh token again')
          else request.log.info({ sid: result.familyId }, 'refresh token rotated')
          return sendTokens(app, reply, {
            userId: result.userId,
            familyId: result.familyId,
            refreshToken: next,
            refreshExpiresAt: result.tokenExpiresAt,
            dpopJkt,
          })
        case 'reused':
          request.log.warn({ sid: result.familyId }, 'refresh token reuse detected: token family revoked')
          throw invalidGrant()
        case 'wrong_key':
          // A stolen refresh token without its key: refused, and the family neither rotated nor revoked (the
          // thief cannot end the victim's session either). invalid_grant: "issued to another client" (RFC 6749 §5.2).
          request.log.warn({ sid: result.familyId }, 'DPoP-bound refresh token presented without its key: refused, family untouched')
          throw invalidGrant()
        case 'revoked':
          request.log.info({ sid: result.familyId }, 'refresh token of a revoked family')
          throw invalidGrant()
        case 'expired':
        case 'unknown':
          request.log.info({ reason: result.kind }, 'refresh token rejected')
          throw invalidGrant()
      }
    },
  )
}

export default tokenRoute
