import type { RefreshFailedError } from './errors.js'

/** The longest cooldown, however many refreshes failed in a row. */
export const MAX_COOLDOWN_MS = 60_000

/** The wait before retry number `retry` (0-based): `baseDelayMs × 2^retry`, scaled by a random 50–100 % (jitter). */
export const backoffDelay = (retry: number, baseDelayMs: number): number => baseDelayMs * 2 ** retry * (0.5 + Math.random() / 2)

/**
 * DESIGN 14: after a refresh failed for now (its retries spent), a new refresh
 * of the same session within the cooldown rejects at once with that error
 * instead of starting over: ky, ofetch and TanStack Query retry a rejected
 * request as if it were a network error, and must not multiply refreshes. The
 * cooldown doubles with each consecutive failure of the session (up to
 * {@link MAX_COOLDOWN_MS}) and ends with a success, a login or a sign-out.
 */
export function createCooldown(baseMs: number, now: () => number) {
  let last: { session: string | null; failures: number; until: number; error: RefreshFailedError } | undefined

  return {
    /** The error a refresh of `session` rejects with now, if it is cooling down. */
    active(session: string | null): RefreshFailedError | undefined {
      return last && last.session === session && now() < last.until ? last.error : undefined
    },
    failed(session: string | null, error: RefreshFailedError): void {
      const failures = last?.session === session ? last.failures + 1 : 1
      last = { session, failures, error, until: now() + Math.min(baseMs * 2 ** (failures - 1), MAX_COOLDOWN_MS) }
    },
    reset(): void {
      last = undefined
    },
  }
}
