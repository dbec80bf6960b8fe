// The one place wall-clock bounds live. Tests synchronise on observable events;
// a bound here only says "this must not take for ever" (a pending promise, a
// hang), generously, and more generously on CI, where a loaded shared machine
// can be several times slower than a laptop.

/** How much slower the machine may be than a quiet laptop. `CI=true` triples every bound. */
export const SLOWDOWN = process.env.CI ? 3 : 1

/** A bound of `ms` on a quiet machine, scaled for this one. */
export const bound = (ms: number): number => ms * SLOWDOWN

/** Settles as `promise` does, or fails when it is still pending after `bound(ms)`. */
export async function within<T>(ms: number, promise: Promise<T>, what = 'the operation'): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} was still pending after ${bound(ms)} ms`)), bound(ms))
  })
  try {
    return await Promise.race([promise, limit])
  } finally {
    clearTimeout(timer)
  }
}

/** Settles every promise, or fails when one is still pending after `bound(ms)` ("none left pending"). */
export function allSettledWithin<T>(promises: Promise<T>[], ms: number): Promise<PromiseSettledResult<T>[]> {
  return within(ms, Promise.allSettled(promises), `some of ${promises.length} promises`)
}

/** Polls until `check` holds (real timers), or fails after `bound(ms)`. */
export async function until(check: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + bound(ms)
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${bound(ms)} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

/** Fails when more than `bound(ms)` passed since `startedAt` (Date.now()): an upper limit, never a timing assertion. */
export function expectWithin(startedAt: number, ms: number, what = 'it'): void {
  const took = Date.now() - startedAt
  if (took > bound(ms)) throw new Error(`${what} took ${took} ms, more than the bound of ${bound(ms)} ms`)
}

/**
 * Fails when less than `ms` passed since `startedAt` (Date.now()): "it did wait".
 * A lower limit needs no slack for a slow machine (time only runs longer); give
 * the timer's own rounding in `ms` (a 150 ms delay: at least 140).
 */
export function expectAtLeast(startedAt: number, ms: number, what = 'it'): void {
  const took = Date.now() - startedAt
  if (took < ms) throw new Error(`${what} took ${took} ms, less than ${ms} ms`)
}
