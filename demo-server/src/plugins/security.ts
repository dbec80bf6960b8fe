import fp from 'fastify-plugin'
import cors from '@fastify/cors'
import helmet from '@fastify/helmet'
import cookie from '@fastify/cookie'
import rateLimit from '@fastify/rate-limit'
import type { FastifyInstance } from 'fastify'
import { addressKey } from '../client-address.ts'
import { HttpError } from '../errors.ts'
import { CSRF_HEADER } from './csrf.ts'

/**
 * Helmet, CORS (exact-origin allowlist with credentials, never a reflected
 * origin), cookie parsing, and the rate limiter (off by default; routes opt in
 * through `config.rateLimit` or `app.createRateLimit`).
 */
async function security(app: FastifyInstance): Promise<void> {
  const { allowedOrigins } = app.settings

  await app.register(helmet, {
    contentSecurityPolicy: {
      directives: {
        // The demo is served over plain http on localhost; upgrading would break it.
        upgradeInsecureRequests: null,
      },
    },
  })

  const allowed = new Set(allowedOrigins)
  await app.register(cors, {
    // A function, not `true`: an origin gets Access-Control-Allow-Origin only if listed.
    origin: (origin, callback) => callback(null, origin !== undefined && allowed.has(origin)),
    credentials: true,
    methods: ['GET', 'POST'],
    allowedHeaders: ['Authorization', 'Content-Type', CSRF_HEADER],
    exposedHeaders: ['WWW-Authenticate', 'Retry-After'],
    maxAge: 600,
  })

  await app.register(cookie)

  await app.register(rateLimit, {
    global: false,
    // One counter per client address; an IPv6 client counts once per /64, not once per address it can pick.
    keyGenerator: (request) => addressKey(request.ip),
    // A shared store (PostgreSQL) when several instances run; else counters in memory.
    ...(app.settings.rateLimitStore ? { store: app.settings.rateLimitStore } : {}),
    errorResponseBuilder: (_request, context) =>
      new HttpError(429, 'rate_limited', `Too many requests; retry in ${context.after}.`, {
        'retry-after': String(Math.max(1, Math.ceil(context.ttl / 1000))),
      }),
  })
}

export default fp(security, { name: 'security', dependencies: ['services'] })
