// The manager's events, as an app's telemetry sees them: counters and a
// duration histogram you would hand to OpenTelemetry, Prometheus or your
// analytics, and breadcrumbs for an error reporter. No token leaves here: the
// `tokens` event carries the tokens themselves, so it is the one event this
// never forwards.
import type { TokenManager, UnauthorizedOutcome } from 'silent-refresh'

/** What the app's telemetry backend receives; plug in your own. */
export interface TelemetrySink {
  count(name: string, labels?: Record<string, string>): void
  observe(name: string, valueMs: number, labels?: Record<string, string>): void
  breadcrumb(message: string, data?: Record<string, string>): void
}

/**
 * Wires a manager's events into `sink`. Returns the function that unwires them.
 *
 * - `auth_401_total{outcome}`: every 401 the adapters handled (retried with a newer
 *   token, waited for the refresh, or handed back: a request of an ended session).
 * - `auth_refresh_total{result}` and `auth_refresh_duration_ms{result}`: each refresh,
 *   `ok`, `transient` (RefreshFailedError: network, 5xx, timeout), `terminal`, or
 *   `superseded` (the session ended while it ran: a sign-out, another tab).
 * - `auth_sign_out_total{reason}`: `expired` (the server refused the refresh),
 *   `cleared` (the app signed out) or `remote` (another tab did).
 * - `auth_problem_total{source}`: storage faults, a cross-tab link that could not
 *   start, a listener that threw, an expiry set aside.
 */
export function reportAuthTelemetry(manager: TokenManager, sink: TelemetrySink, now: () => number = Date.now): () => void {
  let refreshStartedAt: number | undefined
  let refreshFailure: 'transient' | 'terminal' | undefined

  const off = [
    manager.on('unauthorized', ({ outcome }: { outcome: UnauthorizedOutcome }) => sink.count('auth_401_total', { outcome })),
    manager.on('refresh', () => {
      refreshStartedAt = now()
      refreshFailure = undefined
    }),
    manager.on('refreshFailed', ({ error }) => {
      refreshFailure = error.code === 'SESSION_EXPIRED' ? 'terminal' : 'transient'
      sink.breadcrumb('refresh failed', { code: error.code }) // the code, never the error's cause (it may hold a request)
    }),
    // The end of a refresh is when the state stops saying "refreshing", whatever ended it.
    manager.on('state', (state) => {
      if (state.refreshing || refreshStartedAt === undefined) return
      const result = refreshFailure ?? (state.status === 'signedIn' ? 'ok' : 'superseded')
      sink.count('auth_refresh_total', { result })
      sink.observe('auth_refresh_duration_ms', now() - refreshStartedAt, { result })
      refreshStartedAt = undefined
    }),
    manager.on('signedOut', ({ reason }) => {
      sink.count('auth_sign_out_total', { reason })
      sink.breadcrumb('signed out', { reason })
    }),
    manager.on('error', ({ source }) => sink.count('auth_problem_total', { source })),
  ]
  return () => off.forEach((unsubscribe) => unsubscribe())
}
