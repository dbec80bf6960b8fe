import type { FastifyReply, FastifyRequest } from 'fastify'
import { HttpError } from '../errors.ts'

/**
 * Header every cookie-mode call to `/auth/*` must carry (any non-empty value).
 * It is not CORS-safelisted, so a cross-origin page can only send it after a
 * preflight that our CORS allowlist answers — and an HTML form cannot send it
 * at all.
 */
export const CSRF_HEADER = 'x-requested-with'

/**
 * `onRequest` hook guarding the endpoints that act on the refresh-token
 * cookie. Three independent checks, any failure is a 403 before the body is
 * even read (so nothing is rotated or revoked):
 *
 * 1. `Sec-Fetch-Site: cross-site` (sent by every current browser) is refused;
 * 2. an `Origin` header, when present, must be in the allowlist (`null` never is);
 * 3. the custom {@link CSRF_HEADER} must be present.
 *
 * Requests without `Origin` and `Sec-Fetch-Site` are not from a browser
 * (curl, a server); SameSite=Strict already keeps the cookie from cross-site
 * browser requests, these checks are the second and third line.
 */
export function createCsrfGuard(allowedOrigins: readonly string[]) {
  const allowed = new Set(allowedOrigins)
  return async function csrfGuard(request: FastifyRequest, _reply: FastifyReply): Promise<void> {
    const site = request.headers['sec-fetch-site']
    if (site === 'cross-site') {
      throw new HttpError(403, 'csrf_rejected', 'Cross-site requests may not use the refresh-token cookie.')
    }
    const origin = request.headers.origin
    if (origin !== undefined && !allowed.has(origin)) {
      throw new HttpError(403, 'csrf_rejected', 'This Origin is not allowed to use the refresh-token cookie.')
    }
    const marker = request.headers[CSRF_HEADER]
    if (typeof marker !== 'string' || marker.trim() === '') {
      throw new HttpError(403, 'csrf_rejected', `Cookie-mode requests must send the ${CSRF_HEADER} header.`)
    }
  }
}
