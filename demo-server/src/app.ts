import Fastify, { type FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { createScryptHasher } from './auth/password.ts'
import { HttpError } from './errors.ts'
import { loggerOptions } from './logging.ts'
import type { AppOptions, ResolvedOptions } from './options.ts'
import services from './plugins/services.ts'
import helmet from '@fastify/helmet'
import security, { PAGE_HELMET_OPTIONS } from './plugins/security.ts'
import errorHandler, { clientErrorHandler, frameworkErrorHandler } from './plugins/error-handler.ts'
import authenticate from './plugins/authenticate.ts'
import connections from './plugins/connections.ts'
import authRoutes, { AUTH_BODY_LIMIT } from './routes/auth/index.ts'
import apiRoutes from './routes/api/index.ts'
import wellKnownRoutes from './routes/well-known.ts'
import healthRoutes from './routes/health.ts'
import homeRoutes from './routes/home.ts'
import demoRoutes from './routes/demo.ts'
import sdkRoutes from './routes/sdk.ts'
import dpop from './plugins/dpop.ts'
import { DEFAULT_DPOP_NONCE_ROTATION_MS, DPOP_MODES } from './tokens/dpop.ts'
import monitoring from './plugins/monitoring.ts'
import adminRoutes from './routes/admin.ts'

export type { AppOptions, ClientTimeouts, RateLimitRule, RefreshTokenTransport } from './options.ts'

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) throw new TypeError(`"${name}" must be a positive number`)
  return value
}

function resolveOptions(options: AppOptions): ResolvedOptions {
  if (!options || typeof options !== 'object') throw new TypeError('buildApp(options): options are required')
  if (!options.store) throw new TypeError('"store" is required')
  if (!options.keys) throw new TypeError('"keys" is required')
  const transport = options.refreshTokenTransport ?? 'body'
  if (transport !== 'body' && transport !== 'cookie') {
    throw new TypeError('"refreshTokenTransport" must be "body" or "cookie"')
  }
  const grace = options.refreshReuseGraceMs ?? 20_000
  if (!Number.isFinite(grace) || grace < 0) throw new TypeError('"refreshReuseGraceMs" must be a number >= 0')
  const limits = options.rateLimits ?? {}
  const maxSlowDelayMs = options.maxSlowDelayMs ?? 10_000
  const timeouts = {
    headersMs: positive('timeouts.headersMs', options.timeouts?.headersMs ?? 10_000),
    requestMs: positive('timeouts.requestMs', options.timeouts?.requestMs ?? 15_000),
    keepAliveMs: positive('timeouts.keepAliveMs', options.timeouts?.keepAliveMs ?? 72_000),
    idleMs: positive('timeouts.idleMs', options.timeouts?.idleMs ?? 60_000),
  }
  if (timeouts.requestMs < timeouts.headersMs) throw new TypeError('"timeouts.requestMs" must be at least "timeouts.headersMs"')
  // The idle timeout also runs while a handler works: it must outlast the slowest one.
  if (timeouts.idleMs <= maxSlowDelayMs) throw new TypeError('"timeouts.idleMs" must be longer than "maxSlowDelayMs"')
  const authCacheSize = options.authCacheSize ?? 10_000
  if (!Number.isInteger(authCacheSize) || authCacheSize < 0) throw new TypeError('"authCacheSize" must be a whole number >= 0')
  const maxConnectionsPerAddress = options.maxConnectionsPerAddress ?? 64
  if (!Number.isInteger(maxConnectionsPerAddress) || maxConnectionsPerAddress < 0) {
    throw new TypeError('"maxConnectionsPerAddress" must be a whole number >= 0')
  }
  const dpop = options.dpop ?? 'allowed'
  if (!DPOP_MODES.includes(dpop)) throw new TypeError('"dpop" must be "required", "allowed" or "off"')
  const publicOrigins = options.publicOrigins ?? []
  for (const origin of publicOrigins) {
    if (typeof origin !== 'string' || !URL.canParse(origin) || new URL(origin).origin !== origin) {
      throw new TypeError(`"publicOrigins": ${JSON.stringify(origin)} is not a bare origin like https://api.example.com`)
    }
  }
  return {
    store: options.store,
    keys: options.keys,
    issuer: options.issuer ?? 'http://localhost:3000',
    audience: options.audience ?? 'silent-refresh-demo',
    accessTokenTtl: positive('accessTokenTtl', options.accessTokenTtl ?? 30),
    refreshTokenTtl: positive('refreshTokenTtl', options.refreshTokenTtl ?? 600),
    refreshFamilyMaxAge: positive('refreshFamilyMaxAge', options.refreshFamilyMaxAge ?? 3600),
    refreshReuseGraceMs: grace,
    refreshTokenTransport: transport,
    allowedOrigins: options.allowedOrigins ?? ['http://localhost:3000', 'http://127.0.0.1:3000'],
    rateLimits: {
      loginPerIp: limits.loginPerIp ?? { max: 30, windowMs: 60_000 },
      loginFailuresPerAccountAndAddress: limits.loginFailuresPerAccountAndAddress ?? { max: 10, windowMs: 15 * 60_000 },
      loginFailuresPerAccount: limits.loginFailuresPerAccount ?? { max: 50, windowMs: 15 * 60_000 },
      loginFailuresPerDevice: limits.loginFailuresPerDevice ?? { max: 10, windowMs: 15 * 60_000 },
      refreshPerIp: limits.refreshPerIp ?? { max: 60, windowMs: 60_000 },
    },
    rateLimitStore: options.rateLimitStore,
    passwordHasher: options.passwordHasher ?? createScryptHasher(),
    logger: options.logger ?? false,
    trustProxy: options.trustProxy ?? false,
    now: options.now ?? Date.now,
    maxSlowDelayMs,
    demoLevers: options.demoLevers ?? false,
    authCacheSize,
    timeouts,
    maxConnectionsPerAddress,
    dpop,
    dpopNonce: options.dpopNonce ?? true,
    dpopNonceRotationMs: positive('dpopNonceRotationMs', options.dpopNonceRotationMs ?? DEFAULT_DPOP_NONCE_ROTATION_MS),
    publicOrigins,
    monitoring: options.monitoring ?? {},
  }
}

/**
 * Builds the demo server without listening (tests call `app.inject()` or
 * `app.listen({ port: 0 })`). The caller owns `store`: close it after
 * `app.close()`.
 *
 * @example
 * const app = await buildApp({ store: createMemoryStore(), keys: await generateSigningKeys() })
 * const res = await app.inject({ method: 'GET', url: '/healthz' })
 */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const resolved = resolveOptions(options)
  const { timeouts } = resolved
  const app = Fastify({
    logger: loggerOptions(resolved.logger),
    // Fastify turns Node's request timeouts off by default; a stalled or trickling client would hold its socket for ever.
    requestTimeout: timeouts.requestMs,
    connectionTimeout: timeouts.idleMs,
    keepAliveTimeout: timeouts.keepAliveMs,
    http: {
      headersTimeout: timeouts.headersMs,
      // Node checks the header and request timeouts on this interval (default 30 s, which would triple a 10 s limit).
      connectionsCheckingInterval: Math.min(1000, Math.max(10, Math.floor(timeouts.headersMs / 4))),
    },
    trustProxy: resolved.trustProxy,
    bodyLimit: AUTH_BODY_LIMIT,
    // Every schema means exactly what it says: no silently dropped fields, no "1" → 1.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false } },
    // Requests arriving while closing get our own 503 (the onRequest hook below), not Fastify's body.
    return503OnClosing: false,
    frameworkErrors: frameworkErrorHandler,
    clientErrorHandler,
  }).withTypeProvider<TypeBoxTypeProvider>()

  // Graceful shutdown: requests still in flight when close() starts get
  // `Connection: close`, so their keep-alive sockets do not hold close() open;
  // new requests on already open connections get a 503 with Retry-After.
  let closing = false
  app.addHook('preClose', async () => {
    closing = true
  })
  // Callback hooks, not async ones: these two run on every request.
  app.addHook('onRequest', (_request, reply, done) => {
    if (!closing) return done()
    reply.header('connection', 'close')
    done(new HttpError(503, 'temporarily_unavailable', 'The server is shutting down; retry shortly.', { 'retry-after': '1' }))
  })
  app.addHook('onSend', (request, reply, payload, done) => {
    if (closing) reply.header('connection', 'close')
    // Token endpoints and every error: never cached (RFC 6749 §5.1, and no stale 401s in caches).
    if (!reply.hasHeader('cache-control') && (request.routeOptions.url?.startsWith('/auth/') === true || reply.statusCode >= 400)) {
      reply.header('cache-control', 'no-store')
    }
    done(null, payload)
  })

  // JSON only by default: no text/plain parser (it turns any "simple" cross-site request into a body).
  app.removeContentTypeParser('text/plain')

  await app.register(services, resolved)
  await app.register(connections)
  await app.register(errorHandler)
  await app.register(security)
  await app.register(dpop)
  await app.register(authenticate)
  await app.register(monitoring)

  // Demo-page levers, only when asked for; their hooks must precede the auth and API routes.
  if (resolved.demoLevers) await app.register(demoRoutes)
  // The demo page and its scripts: helmet's full set of headers, in their scope only.
  await app.register(async (pages) => {
    pages.addHook('onRoute', (route) => {
      route.config = { ...route.config, page: true }
    })
    await pages.register(helmet, PAGE_HELMET_OPTIONS)
    await pages.register(sdkRoutes)
    await pages.register(homeRoutes)
  })
  await app.register(healthRoutes)
  await app.register(wellKnownRoutes, { keys: resolved.keys })
  await app.register(authRoutes, { prefix: '/auth' })
  await app.register(apiRoutes, { prefix: '/api' })
  // The audit trail, read-only, only with an admin credential: without one these paths are 404s.
  const { adminToken } = app.settings.monitoring
  if (adminToken !== undefined) await app.register(adminRoutes, { prefix: '/admin', adminToken })

  return app
}
