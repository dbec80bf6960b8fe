import fp from 'fastify-plugin'
import cors from '@fastify/cors'
import cookie from '@fastify/cookie'
import rateLimit from '@fastify/rate-limit'
import type { FastifyInstance } from 'fastify'
import { addressKey } from '../client-address.ts'
import { HttpError } from '../errors.ts'
import { CSRF_HEADER } from './csrf.ts'

/**
 * Security headers of every JSON answer (the API, the token endpoints, errors),
 * as OWASP's REST Security Cheat Sheet lists them: nothing of a JSON body may
 * run, be framed, or be sniffed as another type. Computed once; the demo page
 * and its scripts get helmet's full set instead (app.ts registers helmet in
 * their scope only: a 700-byte Content-Security-Policy for HTML is dead weight
 * on every API response).
 */
export const API_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'strict-transport-security': 'max-age=31536000; includeSubDomains',
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** A route of the demo page (HTML, scripts): helmet's headers instead of {@link API_SECURITY_HEADERS}. */
    page?: boolean
  }
}

/** Helmet's options for the demo page (HTML and scripts). */
export const PAGE_HELMET_OPTIONS = {
  contentSecurityPolicy: {
    directives: {
      // The demo is served over plain http on localhost; upgrading would break it.
      upgradeInsecureRequests: null,
    },
  },
}

/**
 * The API security headers, CORS (exact-origin allowlist with credentials,
 * never a reflected origin), cookie parsing, and the rate limiter (off by
 * default; routes opt in through `config.rateLimit`).
 */
async function security(app: FastifyInstance): Promise<void> {
  const { allowedOrigins } = app.settings

  // A callback hook, not an async one: it runs on every request. Page routes have helmet's instead.
  app.addHook('onRequest', (request, reply, done) => {
    if (request.routeOptions.config.page !== true) reply.headers(API_SECURITY_HEADERS)
    done()
  })

  const allowed = new Set(allowedOrigins)
  await app.register(cors, {
    // A function, not `true`: an origin gets Access-Control-Allow-Origin only if listed.
    origin: (origin, callback) => callback(null, origin !== undefined && allowed.has(origin)),
    credentials: true,
    methods: ['GET', 'POST'],
    allowedHeaders: ['Authorization', 'Content-Type', CSRF_HEADER, 'DPoP'],
    exposedHeaders: ['WWW-Authenticate', 'Retry-After', 'DPoP-Nonce'],
    maxAge: 600,
  })

  await app.register(cookie)

  await app.register(rateLimit, {
    global: false,
    // One counter per client address; an IPv6 client counts once per /64, not once per address it can pick.
    keyGenerator: (request) => addressKey(request.ip),
    // Only a refused request is told when to come back (Retry-After, set by errorResponseBuilder);
    // x-ratelimit-* on every token response would be three headers of noise on the hot path.
    addHeadersOnExceeding: { 'x-ratelimit-limit': false, 'x-ratelimit-remaining': false, 'x-ratelimit-reset': false },
    addHeaders: { 'x-ratelimit-limit': false, 'x-ratelimit-remaining': false, 'x-ratelimit-reset': false, 'retry-after': false },
    // A shared store (PostgreSQL) when several instances run; else counters in memory.
    ...(app.settings.rateLimitStore ? { store: app.settings.rateLimitStore } : {}),
    errorResponseBuilder: (_request, context) =>
      new HttpError(429, 'rate_limited', `Too many requests; retry in ${context.after}.`, {
        'retry-after': String(Math.max(1, Math.ceil(context.ttl / 1000))),
      }),
  })
}

export default fp(security, { name: 'security', dependencies: ['services'] })
