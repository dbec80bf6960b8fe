import { createHash, timingSafeEqual } from 'node:crypto'
import { hostname } from 'node:os'
import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { Counter, Histogram, Registry } from 'prom-client'
import { HttpError } from '../errors.ts'
import { StoreUnavailableError, type AuditContext, type AuditDetail, type RotateResult } from '../store/types.ts'
import { REALM } from './authenticate.ts'

/**
 * Options of the audit trail, its admin routes and `/metrics` (`buildApp({ monitoring })`).
 * See the README's "Monitoring" section.
 */
export interface MonitoringOptions {
  /** Write the audit trail (security events of token families) in the store. @default true */
  audit?: boolean
  /** How long audit events are kept, ms (`AUDIT_RETENTION`). @default 30 days */
  auditRetentionMs?: number
  /** How often events past the retention are deleted, ms. @default 10 minutes */
  auditCleanupIntervalMs?: number
  /**
   * Bearer credential of `GET /admin/…` (`ADMIN_TOKEN`), at least 32 characters.
   * Unset: the admin routes do not exist.
   */
  adminToken?: string
  /**
   * Bearer credential of `GET /metrics` (`METRICS_TOKEN`), at least 32 characters.
   * Unset: metrics are off (not collected, no route).
   */
  metricsToken?: string
  /** The `instance_id` label of every metric and the `instance` of audit events (`INSTANCE_ID`). @default os.hostname() */
  instanceId?: string
}

/** Shortest admin or metrics credential accepted: 32 characters (e.g. `openssl rand -base64 32`). */
export const MIN_CREDENTIAL_LENGTH = 32
/** Longest `User-Agent` kept in an audit event. */
export const MAX_AUDITED_USER_AGENT = 256
/** Events deleted per statement by the retention cleanup; it yields to requests between batches. */
export const AUDIT_CLEANUP_BATCH = 1000
const DAY_MS = 24 * 60 * 60_000

/** The counters and the histogram `/metrics` exposes, on a registry of this app's own. */
export interface Metrics {
  registry: Registry
  logins: Counter<'result'>
  rotations: Counter<'kind'>
  refreshRejections: Counter<'reason'>
  reuseDetections: Counter
  revocations: Counter<'reason'>
  refreshDuration: Histogram<'outcome'>
  unauthorized: Counter<'reason'>
  rateLimited: Counter<'route'>
  storeErrors: Counter<'operation'>
}

/** What routes call: one line each, and nothing at all on the hot paths when off. */
export interface Monitoring {
  readonly instanceId: string
  /** The metrics, or null when off. */
  readonly metrics: Metrics | null
  /** Who asked from where, for the store to write with its own write; undefined when the audit trail is off. */
  auditContext(request: FastifyRequest): AuditContext | undefined
  /** A login's outcome: counted, and a failure or lockout written to the audit trail without holding the answer. */
  login(request: FastifyRequest, result: 'ok' | 'failed' | 'locked', who?: { userId?: string | null; username?: string; budget?: string }): void
  /** A refresh's outcome (after `store.rotate`): counted, with its latency. */
  refreshed(result: RotateResult, reply: FastifyReply): void
  /** A logout that found its family. */
  loggedOut(): void
  /** Deletes audit events past the retention, in batches; resolves with how many. */
  cleanup(): Promise<number>
  /** Resolves when every fire-and-forget audit write started so far has settled (tests; close). */
  flush(): Promise<void>
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The audit trail and the metrics (plugins/monitoring.ts). */
    monitoring: Monitoring
  }
}

/** Compares a presented bearer credential with the configured one in constant time (both hashed to 32 bytes first). */
export function credentialCheck(expected: string): (authorization: string | undefined) => boolean {
  const want = createHash('sha256').update(expected).digest()
  return (authorization) => {
    const match = /^Bearer +(\S+) *$/i.exec(authorization ?? '')
    const got = createHash('sha256')
      .update(match?.[1] ?? '')
      .digest()
    return timingSafeEqual(got, want) && match !== null
  }
}

function credential(name: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string' || value.length < MIN_CREDENTIAL_LENGTH || /\s/.test(value)) {
    throw new TypeError(`"monitoring.${name}" must be at least ${MIN_CREDENTIAL_LENGTH} characters without spaces`)
  }
  return value
}

function positiveMs(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) throw new TypeError(`"monitoring.${name}" must be a positive number of ms`)
  return value
}

/** The resolved options (validated; `buildApp` rejects bad ones). */
export function resolveMonitoring(options: MonitoringOptions = {}): Required<Omit<MonitoringOptions, 'adminToken' | 'metricsToken'>> &
  Pick<MonitoringOptions, 'adminToken' | 'metricsToken'> {
  const instanceId = options.instanceId ?? hostname()
  if (typeof instanceId !== 'string' || instanceId.length === 0 || instanceId.length > 128) {
    throw new TypeError('"monitoring.instanceId" must be 1–128 characters')
  }
  return {
    audit: options.audit ?? true,
    auditRetentionMs: positiveMs('auditRetentionMs', options.auditRetentionMs ?? 30 * DAY_MS),
    auditCleanupIntervalMs: positiveMs('auditCleanupIntervalMs', options.auditCleanupIntervalMs ?? 10 * 60_000),
    adminToken: credential('adminToken', options.adminToken),
    metricsToken: credential('metricsToken', options.metricsToken),
    instanceId,
  }
}

function createMetrics(instanceId: string): Metrics {
  const registry = new Registry()
  registry.setDefaultLabels({ instance_id: instanceId })
  const registers = [registry]
  const m: Metrics = {
    registry,
    logins: new Counter({ name: 'silent_refresh_logins_total', help: 'Logins by result: ok, failed (wrong password or unknown user), locked (an attempt budget spent).', labelNames: ['result'], registers }),
    rotations: new Counter({ name: 'silent_refresh_rotations_total', help: 'Refresh-token rotations: rotated, or replayed (the same rotation again within the retry window).', labelNames: ['kind'], registers }),
    refreshRejections: new Counter({ name: 'silent_refresh_refresh_rejections_total', help: 'Refreshes answered invalid_grant, by reason: unknown, expired, revoked, reused, wrong_key (a DPoP-bound token without its key).', labelNames: ['reason'], registers }),
    reuseDetections: new Counter({ name: 'silent_refresh_reuse_detections_total', help: 'Rotated refresh tokens presented again: each revoked its family.', registers }),
    revocations: new Counter({ name: 'silent_refresh_revocations_total', help: 'Token families revoked by this instance, by reason: logout, reuse.', labelNames: ['reason'], registers }),
    refreshDuration: new Histogram({
      name: 'silent_refresh_refresh_duration_seconds',
      help: 'Time from a refresh request arriving to its answer being ready (POST /auth/token reaching the store), by outcome.',
      labelNames: ['outcome'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    unauthorized: new Counter({ name: 'silent_refresh_unauthorized_total', help: '401s on protected routes by reason: missing, expired, invalid, session_ended.', labelNames: ['reason'], registers }),
    rateLimited: new Counter({ name: 'silent_refresh_rate_limited_total', help: '429s by route (request limits and login budgets).', labelNames: ['route'], registers }),
    storeErrors: new Counter({ name: 'silent_refresh_store_errors_total', help: 'Store failures by operation: request (answered 503), audit_write, audit_cleanup.', labelNames: ['operation'], registers }),
  }
  // Every series exists from the start at 0, so rate() and alerts see it before its first event.
  for (const result of ['ok', 'failed', 'locked']) m.logins.inc({ result }, 0)
  for (const kind of ['rotated', 'replayed']) m.rotations.inc({ kind }, 0)
  for (const reason of ['unknown', 'expired', 'revoked', 'reused', 'wrong_key']) m.refreshRejections.inc({ reason }, 0)
  m.reuseDetections.inc(0)
  for (const reason of ['logout', 'reuse']) m.revocations.inc({ reason }, 0)
  for (const reason of ['missing', 'expired', 'invalid', 'session_ended']) m.unauthorized.inc({ reason }, 0)
  for (const operation of ['request', 'audit_write', 'audit_cleanup']) m.storeErrors.inc({ operation }, 0)
  return m
}

/** Why a protected route answered 401, from the RFC 6750 challenge it threw. */
function unauthorizedReason(err: HttpError): string {
  if (err.code === 'unauthorized') return 'missing'
  if (err.description === 'The access token expired.') return 'expired'
  if (err.description === 'The session has ended.') return 'session_ended'
  return 'invalid'
}

/**
 * The audit trail's writer and retention, and the Prometheus metrics: decorates
 * `app.monitoring`; registers `GET /metrics` when a metrics credential is set.
 * The admin routes that read the trail are `routes/admin.ts`.
 */
async function monitoringPlugin(app: FastifyInstance): Promise<void> {
  const options = resolveMonitoring(app.settings.monitoring)
  const { instanceId } = options
  const metrics = options.metricsToken === undefined ? null : createMetrics(instanceId)

  const rotated = metrics?.rotations.labels({ kind: 'rotated' })
  const replayed = metrics?.rotations.labels({ kind: 'replayed' })
  const durationOk = metrics?.refreshDuration.labels({ outcome: 'rotated' })
  const durationRejected = metrics?.refreshDuration.labels({ outcome: 'rejected' })

  /** Audit writes in flight (fire-and-forget ones), so that close and tests can wait for them. */
  const inFlight = new Set<Promise<void>>()
  function track(work: Promise<void>): void {
    const settled = work.finally(() => inFlight.delete(settled))
    inFlight.add(settled)
  }

  /** Fire-and-forget: the request never waits for it and never fails because of it. */
  function append(request: FastifyRequest, event: Parameters<typeof app.store.appendAuditEvent>[0]): Promise<void> {
    return app.store.appendAuditEvent(event).catch((err: unknown) => {
      metrics?.storeErrors.inc({ operation: 'audit_write' })
      request.log.warn({ type: event.type, error: err instanceof Error ? err.name : 'unknown' }, 'audit event not written')
    })
  }

  const monitoring: Monitoring = {
    instanceId,
    metrics,
    auditContext(request) {
      if (!options.audit) return undefined
      const agent = request.headers['user-agent']
      return {
        address: request.ip ?? null,
        // Control characters out, bounded: it is the client's text, shown to an operator later.
        userAgent: typeof agent === 'string' && agent !== '' ? agent.replace(/\p{Cc}/gu, ' ').slice(0, MAX_AUDITED_USER_AGENT) : null,
        instance: instanceId,
      }
    },
    login(request, result, who = {}) {
      metrics?.logins.inc({ result })
      if (result === 'ok') return
      const context = monitoring.auditContext(request)
      if (!context) return
      const at = app.now()
      const detail: AuditDetail | null = who.budget ? { budget: who.budget } : null
      const type = result === 'failed' ? 'login_failed' : 'login_locked'
      if (who.userId !== undefined || who.username === undefined) {
        track(append(request, { ...context, at, type, familyId: null, userId: who.userId ?? null, detail }))
        return
      }
      // A lockout comes before the user is looked up: look it up here, off the request's path.
      track(
        app.store.findUserByUsername(who.username).then(
          (user) => append(request, { ...context, at, type, familyId: null, userId: user?.id ?? null, detail }),
          () => append(request, { ...context, at, type, familyId: null, userId: null, detail }),
        ),
      )
    },
    refreshed(result, reply) {
      if (!metrics) return
      const seconds = reply.elapsedTime / 1000
      if (result.kind === 'rotated') {
        ;(result.replayed ? replayed : rotated)!.inc()
        durationOk!.observe(seconds)
        return
      }
      durationRejected!.observe(seconds)
      metrics.refreshRejections.inc({ reason: result.kind })
      if (result.kind === 'reused') {
        metrics.reuseDetections.inc()
        metrics.revocations.inc({ reason: 'reuse' })
      }
    },
    loggedOut() {
      metrics?.revocations.inc({ reason: 'logout' })
    },
    async cleanup() {
      const before = app.now() - options.auditRetentionMs
      let total = 0
      for (;;) {
        const deleted = await app.store.purgeAuditEvents(before, AUDIT_CLEANUP_BATCH)
        total += deleted
        if (deleted < AUDIT_CLEANUP_BATCH) return total
        // Let requests run between batches (SQLite deletes on this thread).
        await new Promise((resolve) => setImmediate(resolve))
      }
    },
    async flush() {
      while (inFlight.size > 0) await Promise.all(inFlight)
    },
  }
  app.decorate('monitoring', monitoring)
  // The store closes after the app: let the writes still in flight land first.
  app.addHook('onClose', () => monitoring.flush())

  if (options.audit) {
    let timer: NodeJS.Timeout | undefined
    let running: Promise<unknown> | undefined
    const tick = (): void => {
      if (running) return
      running = monitoring
        .cleanup()
        .then((deleted) => {
          if (deleted > 0) app.log.info({ deleted }, 'audit events past their retention deleted')
        })
        .catch((err: unknown) => {
          metrics?.storeErrors.inc({ operation: 'audit_cleanup' })
          app.log.warn({ error: err instanceof Error ? err.name : 'unknown' }, 'audit retention cleanup failed')
        })
        .finally(() => (running = undefined))
    }
    app.addHook('onReady', async () => {
      timer = setInterval(tick, options.auditCleanupIntervalMs)
      timer.unref()
    })
    app.addHook('onClose', async () => {
      clearInterval(timer)
      await running
    })
  }

  if (metrics) {
    // Errors only: nothing runs on a request that succeeds.
    app.addHook('onError', (request, _reply, err, done) => {
      if (err instanceof HttpError) {
        if (err.statusCode === 401 && err.headers['www-authenticate']?.includes(`realm="${REALM}"`)) metrics.unauthorized.inc({ reason: unauthorizedReason(err) })
        else if (err.statusCode === 429) metrics.rateLimited.inc({ route: request.routeOptions.url ?? 'unknown' })
      } else if (err instanceof StoreUnavailableError) {
        metrics.storeErrors.inc({ operation: 'request' })
      }
      done()
    })

    const authorized = credentialCheck(options.metricsToken!)
    app.get('/metrics', { logLevel: 'warn' }, async (request, reply) => {
      if (!authorized(request.headers.authorization)) {
        throw new HttpError(401, 'unauthorized', 'GET /metrics needs its bearer credential (METRICS_TOKEN).', {
          'www-authenticate': 'Bearer realm="silent-refresh-metrics"',
        })
      }
      reply.header('content-type', metrics.registry.contentType).header('cache-control', 'no-store')
      return metrics.registry.metrics()
    })
  }
}

export default fp(monitoringPlugin, { name: 'monitoring', dependencies: ['services'] })
