import pg from 'pg'
import type { RevocationListener } from './types.ts'

/** The channel the `token_families_revoked` trigger (migration 4) notifies, with the family id as payload. */
export const REVOCATION_CHANNEL = 'silent_refresh_revocations'

/** How often the listening connection is checked; a dead one (no error seen, e.g. a vanished network) is replaced. */
export const LISTENER_HEALTH_CHECK_MS = 5000

/** Options of {@link watchPostgresRevocations}. */
export interface RevocationFeedOptions {
  connectionString: string
  /** `application_name` of the listening connection (the store's, plus " revocations"). */
  applicationName: string
  /** Reports connection trouble (the feed reconnects by itself). */
  onError?: (err: Error) => void
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref())

/**
 * One dedicated connection (outside the pool: a pooled one could be handed to
 * a query mid-LISTEN) that LISTENs for revocations and passes each one to
 * `listener.revoked`. `listener.live(true)` once listening; when the
 * connection fails, is terminated, or stops answering the health check,
 * `live(false)` at once (notifications may be lost from then on) and it
 * reconnects with backoff, then `live(true)` again. Resolves after the first
 * connection attempt; returns the function that stops the feed.
 */
export async function watchPostgresRevocations(options: RevocationFeedOptions, listener: RevocationListener): Promise<() => Promise<void>> {
  let stopped = false
  let current: pg.Client | undefined

  function lost(client: pg.Client, err?: Error): void {
    if (current !== client) return
    current = undefined
    listener.live(false)
    if (err) options.onError?.(err)
    client.end().catch(() => {})
    if (!stopped) void connect()
  }

  async function connect(): Promise<void> {
    for (let attempt = 0; !stopped; attempt++) {
      const client = new pg.Client({
        connectionString: options.connectionString,
        application_name: `${options.applicationName} revocations`,
        keepAlive: true,
        keepAliveInitialDelayMillis: 5000,
        connectionTimeoutMillis: 5000,
        query_timeout: 5000,
      })
      client.on('notification', (message) => {
        if (message.channel === REVOCATION_CHANNEL && message.payload) listener.revoked(message.payload)
      })
      client.on('error', (err) => lost(client, err))
      client.on('end', () => lost(client))
      try {
        await client.connect()
        await client.query(`LISTEN ${REVOCATION_CHANNEL}`)
        if (stopped) {
          await client.end()
          return
        }
        current = client
        listener.live(true)
        return
      } catch (err) {
        client.end().catch(() => {})
        options.onError?.(err as Error)
        await sleep(Math.min(5000, 100 * 2 ** attempt))
      }
    }
  }

  const health = setInterval(() => {
    const client = current
    if (client) client.query('SELECT 1').catch((err: Error) => lost(client, err))
  }, LISTENER_HEALTH_CHECK_MS)
  health.unref()

  listener.live(false)
  await connect()
  return async () => {
    stopped = true
    clearInterval(health)
    const client = current
    current = undefined
    await client?.end().catch(() => {})
  }
}
