import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit'
import type { Pool } from 'pg'
import { isUnavailableError } from './postgres-store.ts'
import { StoreUnavailableError } from './types.ts'

type Callback = (error: Error | null, result?: { current: number; ttl: number }) => void

/** The database clock in epoch ms: one clock for every instance. */
const NOW = `(extract(epoch FROM statement_timestamp()) * 1000)::bigint`

// One atomic statement per counted request: the row lock of ON CONFLICT serializes
// instances hitting the same key. A window that has ended restarts at 1.
const INCR = `
INSERT INTO rate_limits AS r (key, count, reset_at) VALUES ($1, 1, ${NOW} + $2)
ON CONFLICT (key) DO UPDATE SET
  count    = CASE WHEN r.reset_at <= ${NOW} THEN 1 ELSE r.count + 1 END,
  reset_at = CASE WHEN r.reset_at <= ${NOW} THEN ${NOW} + $2 ELSE r.reset_at END
RETURNING count, reset_at - ${NOW} AS ttl`

const READ = `SELECT count, reset_at - ${NOW} AS ttl FROM rate_limits WHERE key = $1 AND reset_at > ${NOW}`

interface CounterRow {
  count: number
  ttl: string
}

function wrap(err: unknown): Error {
  if (isUnavailableError(err)) {
    return err instanceof StoreUnavailableError
      ? err
      : new StoreUnavailableError(`PostgreSQL is unavailable for rate limiting: ${(err as Error).message}`, false, { cause: err })
  }
  return err instanceof Error ? err : new Error(String(err))
}

/**
 * A `store` for `@fastify/rate-limit` that keeps the counters in PostgreSQL
 * (the UNLOGGED `rate_limits` table), so every instance on the database
 * shares one count per key. Fixed windows timed by the database clock, like
 * the plugin's own Redis store; `continueExceeding` and `exponentialBackoff`
 * are not supported (the demo does not use them).
 *
 * @example
 * await app.register(rateLimit, { store: createPostgresRateLimitStore(store.pool) })
 */
export function createPostgresRateLimitStore(pool: Pool): FastifyRateLimitStoreCtor {
  class PostgresRateLimitStore implements FastifyRateLimitStore {
    constructor(
      _options: unknown,
      private readonly prefix = 'rl:',
    ) {}

    incr(key: string, callback: Callback, timeWindow: number): void {
      pool
        .query<CounterRow>({ name: 'sr_rl_incr', text: INCR, values: [this.prefix + key, timeWindow] })
        .then(({ rows }) => callback(null, { current: rows[0]!.count, ttl: Math.max(0, Number(rows[0]!.ttl)) }))
        .catch((err: unknown) => callback(wrap(err)))
    }

    /** Non-mutating peek (`createRateLimit()(request, { increment: false })`). */
    read(key: string, callback: Callback): void {
      pool
        .query<CounterRow>({ name: 'sr_rl_read', text: READ, values: [this.prefix + key] })
        .then(({ rows }) => {
          const row = rows[0]
          callback(null, row ? { current: row.count, ttl: Math.max(0, Number(row.ttl)) } : { current: 0, ttl: 0 })
        })
        .catch((err: unknown) => callback(wrap(err)))
    }

    child(routeOptions: unknown): FastifyRateLimitStore {
      // Like the plugin's Redis store: one key space per route (method + URL); limiters made
      // with createRateLimit() have no route and rely on their keyGenerator's own prefix.
      const info = (routeOptions as { routeInfo?: { method?: unknown; url?: unknown } }).routeInfo ?? {}
      const route = typeof info.url === 'string' ? `${String(info.method)}${info.url}:` : ''
      return new PostgresRateLimitStore(routeOptions, `${this.prefix}${route}`)
    }
  }
  return PostgresRateLimitStore
}
