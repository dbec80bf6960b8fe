import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { HttpError } from '../../errors.ts'
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
  const { loginPerIp, loginFailuresPerAccount } = app.settings.rateLimits
  // Counts failures only (peeked before, consumed after a failure), so a person
  // who types the right password is never locked out by their own successes.
  const accountFailures = app.createRateLimit({
    max: loginFailuresPerAccount.max,
    timeWindow: loginFailuresPerAccount.windowMs,
    keyGenerator: (request) => `login-account:${(request.body as { username: string }).username}`,
  })

  app.post(
    '/login',
    {
      bodyLimit: LOGIN_BODY_LIMIT,
      config: { rateLimit: { max: loginPerIp.max, timeWindow: loginPerIp.windowMs } },
      schema: { body: LoginBody, response: { 200: TokenResponse } },
    },
    async (request, reply) => {
      const { username, password } = request.body

      // `max` failures are allowed; with that many on record, the next attempt is refused unhashed.
      const limit = await accountFailures(request, { increment: false })
      if (!limit.isAllowed && limit.remaining <= 0) {
        throw new HttpError(429, 'rate_limited', 'Too many failed logins for this account; see Retry-After.', {
          'retry-after': String(Math.max(1, limit.ttlInSeconds)),
        })
      }

      const user = await app.store.findUserByUsername(username)
      // Unknown user: verify against a dummy hash anyway, so both answers take one scrypt.
      const ok = await app.passwordHasher.verify(password, user?.passwordHash ?? app.dummyPasswordHash)
      if (!user || !ok) {
        await accountFailures(request)
        throw new HttpError(401, 'invalid_credentials', INVALID_CREDENTIALS)
      }

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
      })
      request.log.info({ sid: familyId, sub: user.id }, 'login')
      return sendTokens(app, reply, { userId: user.id, familyId, refreshToken, refreshExpiresAt })
    },
  )
}

export default loginRoute
