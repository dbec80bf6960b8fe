import { randomBytes } from 'node:crypto'
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { createAccessTokens, type AccessTokens } from '../tokens/access-token.ts'
import { deriveSecret } from '../tokens/keys.ts'
import { createDeviceCookies, type DeviceCookies } from '../auth/device-cookie.ts'
import { createChildTokens } from '../tokens/refresh-token.ts'
import type { PasswordHasher } from '../auth/password.ts'
import type { ResolvedOptions } from '../options.ts'
import type { Store } from '../store/types.ts'

declare module 'fastify' {
  interface FastifyInstance {
    store: Store
    accessTokens: AccessTokens
    passwordHasher: PasswordHasher
    /** Hash of a random password: verified against when the user does not exist, so both paths cost one scrypt. */
    dummyPasswordHash: string
    now: () => number
    settings: ResolvedOptions
    /** Device cookies of successful logins (auth/device-cookie.ts). */
    deviceCookies: DeviceCookies
    /** The refresh token that replaces a given one at rotation (tokens/refresh-token.ts). */
    childRefreshToken: (parent: string) => string
  }
}

/** Decorates the app with its collaborators, so routes reach them as `app.store`, `app.accessTokens`, … */
async function services(app: FastifyInstance, options: ResolvedOptions): Promise<void> {
  app.decorate('settings', options)
  app.decorate('store', options.store)
  app.decorate('now', options.now)
  app.decorate('passwordHasher', options.passwordHasher)
  app.decorate('deviceCookies', createDeviceCookies(deriveSecret(options.keys, 'device-cookie v1'), options.now))
  app.decorate('childRefreshToken', createChildTokens(deriveSecret(options.keys, 'refresh-token children v1')))
  app.decorate('dummyPasswordHash', await options.passwordHasher.hash(randomBytes(24).toString('base64url')))
  app.decorate(
    'accessTokens',
    createAccessTokens({
      keys: options.keys,
      issuer: options.issuer,
      audience: options.audience,
      ttlSeconds: options.accessTokenTtl,
      now: options.now,
    }),
  )
}

export default fp(services, { name: 'services' })
