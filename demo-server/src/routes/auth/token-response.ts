import type { FastifyInstance, FastifyReply } from 'fastify'
import type { TokenResponse } from '../../schemas.ts'

/**
 * Name of the refresh-token cookie in cookie mode.
 *
 * `__Host-` rather than a path-scoped `__Secure-`: the browser then guarantees
 * Secure, Path=/ and no Domain, so no sibling subdomain or other path can set
 * a cookie of the same name that shadows ours (cookie tossing). The price is
 * that the cookie also travels to `/api/*`, where it is ignored and redacted
 * from logs; HttpOnly + SameSite=Strict keep it from scripts and other sites.
 */
export const REFRESH_COOKIE = '__Host-refresh_token'

/** Cookie attributes: HttpOnly, Secure, SameSite=Strict, Path=/ (required by `__Host-`). */
export const REFRESH_COOKIE_OPTIONS = { httpOnly: true, secure: true, sameSite: 'strict', path: '/' } as const

/** Reply headers RFC 6749 §5.1 requires on any response carrying tokens. */
export function noStore(reply: FastifyReply): FastifyReply {
  return reply.header('cache-control', 'no-store').header('pragma', 'no-cache')
}

/**
 * Signs an access token for the session and shapes the token response, with
 * the refresh token in the body or in the cookie depending on the transport.
 */
export function sendTokens(
  app: FastifyInstance,
  reply: FastifyReply,
  session: { userId: string; familyId: string; refreshToken: string; refreshExpiresAt: number; dpopJkt?: string | null },
): TokenResponse {
  // With a DPoP proof, the access token is bound to its key (cnf.jkt) and says so in token_type (RFC 9449 §5).
  const accessToken = app.accessTokens.sign({ sub: session.userId, sid: session.familyId, jkt: session.dpopJkt ?? null })
  noStore(reply)
  const body: TokenResponse = {
    access_token: accessToken,
    token_type: session.dpopJkt ? 'DPoP' : 'Bearer',
    expires_in: app.accessTokens.ttlSeconds,
  }
  if (app.settings.refreshTokenTransport === 'cookie') {
    reply.setCookie(REFRESH_COOKIE, session.refreshToken, {
      ...REFRESH_COOKIE_OPTIONS,
      maxAge: Math.max(0, Math.floor((session.refreshExpiresAt - app.now()) / 1000)),
    })
  } else {
    body.refresh_token = session.refreshToken
  }
  return body
}

/** Expires the refresh-token cookie (same name and attributes, or the browser keeps it). */
export function clearRefreshCookie(reply: FastifyReply): void {
  reply.clearCookie(REFRESH_COOKIE, REFRESH_COOKIE_OPTIONS)
}
