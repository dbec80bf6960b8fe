// The one fake clock of the test suite, and the helpers that drive it.
//
// Tests that race timers (refresh latency, backoff, a lagging storage, channel
// delays, lock timeouts) run on fake time, so a loaded machine cannot reorder
// them: the outcome depends on the code, not on the scheduler. Real macrotasks
// are still needed by work that is not a timer (fake-indexeddb schedules every
// step with `setImmediate`), so `setImmediate` can stay real and be counted:
// the helpers below let all real work run to idle before time moves on, then
// move fake time to the next timer and fire it. Nothing waits on real time.
import { afterEach, beforeEach, vi } from 'vitest'

/** The fake "now" of the suite: a fixed instant far from any token's real exp. */
export const NOW = Date.UTC(2030, 0, 1)

/** Timers and the clock, and nothing else: `setImmediate` and I/O stay real (fake-indexeddb needs them). */
export const TIMERS_AND_DATE = ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] as const

// Captured at import, before any test fakes or wraps it: a real macrotask lets every pending microtask run.
const realSetImmediate = globalThis.setImmediate
const realClearImmediate = globalThis.clearImmediate

/** `setImmediate` callbacks queued and not yet run (when counting): real work still to do. */
const queued = new Set<unknown>()
let counting = false

const realTurn = () => new Promise<void>((resolve) => realSetImmediate(resolve))

export interface FakeClockOptions {
  /** The fake time at the start of each test. @default NOW */
  now?: number
  /**
   * `'timers'` fakes only {@link TIMERS_AND_DATE} and counts real `setImmediate`
   * work, for {@link settle}, {@link eventually} and {@link advance};
   * `'all'` is vitest's default (every timer, `setImmediate` too).
   * @default 'all'
   */
  fake?: 'all' | 'timers'
}

/** Puts every test of the file (or `describe`) on the fake clock; real timers again after each. */
export function useFakeClock(options: FakeClockOptions = {}): void {
  beforeEach(() => startFakeClock(options))
  afterEach(() => stopFakeClock())
}

/** {@link useFakeClock} for one test: call `stopFakeClock()` after it (an `afterEach` does). */
export function startFakeClock({ now = NOW, fake = 'all' }: FakeClockOptions = {}): void {
  if (fake === 'all') {
    vi.useFakeTimers({ now })
    return
  }
  vi.useFakeTimers({ now, toFake: [...TIMERS_AND_DATE] })
  // Installed after the fakes, so vitest's own async helpers keep the unwrapped setImmediate.
  counting = true
  queued.clear()
  globalThis.setImmediate = Object.assign(
    <A extends unknown[]>(callback: (...args: A) => void, ...args: A) => {
      const handle: NodeJS.Immediate = realSetImmediate(() => {
        queued.delete(handle)
        callback(...args)
      })
      queued.add(handle)
      return handle
    },
    { __promisify__: realSetImmediate.__promisify__ },
  ) as typeof setImmediate
  globalThis.clearImmediate = (handle) => {
    queued.delete(handle)
    realClearImmediate(handle)
  }
}

export function stopFakeClock(): void {
  if (counting) {
    globalThis.setImmediate = realSetImmediate
    globalThis.clearImmediate = realClearImmediate
    counting = false
    queued.clear()
  }
  vi.useRealTimers()
}

/**
 * Lets all work that does not wait for a timer run to its end: microtasks, and
 * (with `fake: 'timers'`) every real `setImmediate` task, such as IndexedDB's.
 */
export async function idle(): Promise<void> {
  for (let turns = 0; ; turns++) {
    await realTurn()
    if (queued.size === 0) return
    if (turns > 100_000) throw new Error('idle(): real work never stopped scheduling more (an endless setImmediate loop?)')
  }
}

/**
 * Drives the fake clock: real work runs to idle, then time moves to the next
 * timer, which fires; again, until `done()` holds. Fails when it still does not
 * after `withinMs` of fake time (time never jumps past that bound).
 */
async function drive(done: () => boolean, withinMs: number, what: string): Promise<void> {
  const deadline = Date.now() + withinMs
  // A timer at the deadline: the next timer is never later than the bound.
  const bound = setTimeout(() => {}, withinMs)
  try {
    for (let fired = 0; ; fired++) {
      await idle()
      if (done()) return
      if (Date.now() >= deadline) throw new Error(`${what} after ${withinMs} ms of fake time`)
      if (fired > 100_000) throw new Error(`${what}: 100,000 timers fired (a timer loop with no delay?)`)
      vi.advanceTimersToNextTimer()
    }
  } finally {
    clearTimeout(bound)
  }
}

/** Moves fake time `ms` forward, firing every timer on the way in order, with real work run to idle between. */
export async function advance(ms: number): Promise<void> {
  const target = Date.now() + ms
  // drive() puts a timer at the target: time stops there, after the timers due by then.
  await drive(() => Date.now() >= target, ms, 'advance(): the target was not reached')
}

/**
 * Resolves or rejects as `promise` does, driving fake time until it settles.
 * Fails when it is still pending after `withinMs` of fake time (a hang).
 */
export async function settle<T>(promise: Promise<T>, withinMs = 60_000): Promise<T> {
  let pending = true
  promise.then(
    () => (pending = false),
    () => (pending = false),
  )
  await drive(() => !pending, withinMs, 'settle(): the promise was still pending')
  return promise
}

/**
 * `expect.poll` on fake time: runs `check` (an assertion; it may be async and
 * may need time to pass to settle) until it passes, moving fake time on between
 * tries. Fails with the last assertion error after `withinMs` of fake time.
 */
export async function eventually(check: () => unknown, withinMs = 5_000): Promise<void> {
  const deadline = Date.now() + withinMs
  for (;;) {
    let failure: unknown
    try {
      await settle(Promise.resolve().then(check), Math.max(1, deadline - Date.now()))
      return
    } catch (error) {
      failure = error
    }
    if (Date.now() >= deadline) throw failure
    // Nothing changes without an event: fire the next timer before trying again.
    await advanceToNextTimer(deadline)
  }
}

/** Fires the next timer, unless it is after `deadline`; real work runs to idle first. */
async function advanceToNextTimer(deadline: number): Promise<void> {
  await idle()
  const bound = setTimeout(() => {}, Math.max(0, deadline - Date.now()))
  try {
    vi.advanceTimersToNextTimer()
  } finally {
    clearTimeout(bound)
  }
}
