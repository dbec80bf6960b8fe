import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { addressKey } from '../../client-address.ts'
import { HttpError } from '../../errors.ts'
import { DEVICE_COOKIE, DEVICE_COOKIE_MAX_AGE_SECONDS, DEVICE_COOKIE_OPTIONS } from '../../auth/device-cookie.ts'
import { loginBudgets, refusalMessage } from '../../auth/login-limits.ts'
import { TokenResponse } from '../../schemas.ts'
import { MAX_PASSWORD_LENGTH } from '../../auth/password.ts'
import { generateId, generateRefreshToken, hashRefreshToken } from '../../tokens/refresh-token.ts'
import { sendTokens } from './token-response.ts'

/** Usernames: 1–64 characters, none of them a control character (`\p{Cc}`, NUL included) or a lone surrogate (`\p{Cs}`). */
export const USERNAME_PATTERN = '^[^\\p{Cc}\\p{Cs}]+$'

const LoginBody = Type.Object(
  {
    // No control characters (NUL above all: PostgreSQL refuses it in text) and no lone surrogates.
    username: Type.String({ minLength: 1, maxLength: 64, pattern: USERNAME_PATTERN }),
    password: Type.String({ minLength: 1, maxLength: MAX_PASSWORD_LENGTH }),
  },
  { additionalProperties: false },
)

const INVALID_CREDENTIALS = 'Invalid username or password.'

/**
 * Body limit of this route only. Larger than the server's 16 KiB so that an
 * overlong password reaches the schema and gets a precise 400 (the hash is
 * never computed); anything bigger is still a 413.
 */
export const LOGIN_BODY_LIMIT = 128 * 1024

/** `POST /auth/login` — JSON `{ username, password }` → RFC 6749 §5.1 token response. */
const loginRoute: FastifyPluginAsyncTypebox = async (app) => {
  const { loginPerIp, loginFailuresPerAccount, loginFailuresPerAccountAndAddress, loginFailuresPerDevice } = app.settings.rateLimits
  const rules = { perAccount: loginFailuresPerAccount, perAccountAndAddress: loginFailuresPerAccountAndAddress, perDevice: loginFailuresPerDevice }

  app.post(
    '/login',
    {
      bodyLimit: LOGIN_BODY_LIMIT,
      config: { rateLimit: { max: loginPerIp.max, timeWindow: loginPerIp.windowMs } },
      schema: { body: LoginBody, response: { 200: TokenResponse } },
    },
    async (request, reply) => {
      const { username, password } = request.body
      // The DPoP proof first: a bad one costs no attempt and no password hash (RFC 9449 §5).
      const dpopJkt = await app.dpop.atTokenEndpoint(request, reply)

      // The attempt takes its slots before the hash, atomically in the store: concurrent guesses
      // cannot all pass a check that runs while the others are still hashing. Unknown and known
      // usernames are counted alike (no account enumeration through 429s).
      const deviceId = app.deviceCookies.verify(request.cookies[DEVICE_COOKIE], username)
      const budgets = loginBudgets(rules, { username, address: addressKey(request.ip), deviceId })
      const reservation = await app.store.reserveAttempts(budgets, app.now())
      if (reservation.kind === 'refused') {
        request.log.warn({ budget: reservation.key.split('\n')[1], knownDevice: deviceId !== undefined }, 'login refused: attempt budget spent')
        app.monitoring.login(request, 'locked', { username, budget: reservation.key.split('\n')[1] })
        throw new HttpError(429, 'rate_limited', refusalMessage(reservation.key), {
          'retry-after': String(Math.max(1, Math.ceil(reservation.retryAfterMs / 1000))),
        })
      }

      const user = await app.store.findUserByUsername(username)
      // Unknown user: verify against a dummy hash anyway, so both answers take one scrypt.
      const ok = await app.passwordHasher.verify(password, user?.passwordHash ?? app.dummyPasswordHash)
      if (!user || !ok) {
        app.monitoring.login(request, 'failed', { userId: user?.id ?? null })
        throw new HttpError(401, 'invalid_credentials', INVALID_CREDENTIALS)
      }

      // A success does not count: the slots go back.
      await app.store.releaseAttempts(reservation.slots)

      const now = app.now()
      const { refreshTokenTtl, refreshFamilyMaxAge } = app.settings
      const familyId = generateId()
      const refreshToken = generateRefreshToken()
      const familyExpiresAt = now + refreshFamilyMaxAge * 1000
      const refreshExpiresAt = Math.min(now + refreshTokenTtl * 1000, familyExpiresAt)
      await app.store.createSession({
        familyId,
        userId: user.id,
        tokenHash: hashRefreshToken(refreshToken),
        now,
        tokenExpiresAt: refreshExpiresAt,
        familyExpiresAt,
        // A public client's refresh tokens are bound to the login's DPoP key, for the family's whole life (RFC 9449 §5).
        dpopJkt,
        audit: app.monitoring.auditContext(request),
      })
      app.monitoring.login(request, 'ok')
      request.log.info({ sid: familyId, sub: user.id, knownDevice: deviceId !== undefined, dpop: dpopJkt !== null }, 'login')
      const body = sendTokens(app, reply, { userId: user.id, familyId, refreshToken, refreshExpiresAt, dpopJkt })
      // This browser is now a known device for this user (a fresh cookie at every login).
      reply.setCookie(DEVICE_COOKIE, app.deviceCookies.issue(username), { ...DEVICE_COOKIE_OPTIONS, maxAge: DEVICE_COOKIE_MAX_AGE_SECONDS })
      return body
    },
  )
}

export default loginRoute
