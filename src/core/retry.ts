import type { RefreshFailedError } from './errors.js'

/** The longest cooldown, however many refreshes failed in a row. */
export const MAX_COOLDOWN_MS = 60_000

/** The wait before retry number `retry` (0-based): `baseDelayMs × 2^retry`, scaled by a random 50–100 % (jitter). */
export const backoffDelay = (retry: number, baseDelayMs: number): number => baseDelayMs * 2 ** retry * (0.5 + Math.random() / 2)

/**
 * DESIGN 14: after refreshes failed for now (their retries spent), a new refresh
 * of the same session within the cooldown rejects at once with that error
 * instead of starting over: ky, ofetch and TanStack Query retry a rejected
 * request as if it were a network error, and must not multiply refreshes.
 *
 * One failure is taken as a blip: the next request tries again at once (the
 * network may be back). From the second failure in a row the cooldown is
 * `baseMs`, doubling with each further one (up to {@link MAX_COOLDOWN_MS});
 * it ends with a success, a login or a sign-out.
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
      const cooldown = failures < 2 ? 0 : Math.min(baseMs * 2 ** (failures - 2), MAX_COOLDOWN_MS)
      last = { session, failures, error, until: now() + cooldown }
    },
    reset(): void {
      last = undefined
    },
  }
}
