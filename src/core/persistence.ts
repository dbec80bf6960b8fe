import { hasAccessToken } from './session.js'
import { unrefTimer } from './internal/timers.js'
import type { TokenSet, TokenStorage } from './types.js'

/** The storage as the manager uses it: every call bounded, faults reported, never thrown at a request. */
export interface Persistence {
  /**
   * What the storage holds: at once from a synchronous storage (so the first
   * request can take the fast path), else a promise. Throws (or rejects) when the
   * storage throws, holds something that is not tokens, or does not answer in time.
   */
  read(): TokenSet | null | Promise<TokenSet | null>
  /** Writes (or clears, `null`) in order; resolves when written or given up on, never rejects. */
  write(tokens: TokenSet | null): Promise<void>
}

const isThenable = (value: unknown): value is PromiseLike<unknown> => typeof (value as PromiseLike<unknown> | null)?.then === 'function'

/** Settles as `value` does, or rejects with a `TimeoutError` after `ms` (DESIGN 6: no storage call holds the manager hostage). */
function bounded<T>(value: T | PromiseLike<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const cancel = unrefTimer(() => reject(Object.assign(new Error(`${what} did not answer within ${ms} ms`), { name: 'TimeoutError' })), ms)
    Promise.resolve(value).then(resolve, reject).finally(cancel)
  })
}

const checked = (stored: TokenSet | null | undefined): TokenSet | null => {
  if (stored == null) return null
  if (!hasAccessToken(stored)) throw new TypeError('The stored value is not a token set (it has no accessToken)')
  return stored
}

/**
 * Wraps the app's storage (DESIGN 10). A write that throws or does not answer
 * within `timeoutMs` switches the manager to memory for the rest of its life
 * (quota, private mode, a storage that hangs) and clears what is stored, so a
 * reload never brings back a refresh token that was since rotated. A read that
 * fails is the caller's to retry: unreadable is not unwritable.
 */
export function createPersistence(storage: TokenStorage | undefined, timeoutMs: number, report: (error: unknown) => void): Persistence {
  let target = storage
  let writes: Promise<void> = Promise.resolve()

  const write = async (tokens: TokenSet | null) => {
    const current = target
    if (!current) return
    try {
      await bounded(
        new Promise<void>((resolve) => resolve(tokens ? current.set(tokens) : current.clear())),
        timeoutMs,
        tokens ? 'storage.set()' : 'storage.clear()',
      )
    } catch (error) {
      if (target !== current) return
      target = undefined
      report(error)
      void new Promise((resolve) => resolve(current.clear())).catch(() => {})
    }
  }

  return {
    read() {
      const current = target
      if (!current) return null
      const stored = current.get()
      return isThenable(stored) ? bounded(stored, timeoutMs, 'storage.get()').then(checked) : checked(stored)
    },
    write(tokens) {
      // Chained, so an async storage always ends with the newest value; each link is bounded, so one hang stops nothing.
      writes = writes.then(() => write(tokens))
      return writes
    },
  }
}
