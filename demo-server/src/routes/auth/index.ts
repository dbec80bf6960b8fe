import formbody from '@fastify/formbody'
import type { FastifyInstance } from 'fastify'
import { createCsrfGuard } from '../../plugins/csrf.ts'
import loginRoute from './login.ts'
import tokenRoute from './token.ts'
import logoutRoute from './logout.ts'

/** Body limit of the form/JSON token endpoints. */
export const AUTH_BODY_LIMIT = 16 * 1024

/** `/auth/*`: login, token (refresh), logout. Register with `{ prefix: '/auth' }`. */
export default async function authRoutes(app: FastifyInstance): Promise<void> {
  // In cookie mode these endpoints act on an ambient credential: CSRF checks first.
  if (app.settings.refreshTokenTransport === 'cookie') {
    app.addHook('onRequest', createCsrfGuard(app.settings.allowedOrigins))
  }

  // Login takes JSON only (no form parser in its scope): a cross-site HTML form
  // can post urlencoded without a preflight, but not JSON.
  await app.register(loginRoute)

  // RFC 6749 §6 clients send forms; the parser lives only in this scope.
  await app.register(async (forms) => {
    await forms.register(formbody, { bodyLimit: AUTH_BODY_LIMIT })
    await forms.register(tokenRoute)
    await forms.register(logoutRoute)
  })
}
