import { expect, vi } from 'vitest'
import { createTokenManager, memoryStorage, type RefreshFn, type TokenManager, type TokenManagerEvents, type TokenManagerOptions, type TokenSet } from '../../src/index.js'

/** A promise with its settle functions outside. */
export interface Deferred<T> {
  promise: Promise<T>
  resolve(value: T): void
  reject(reason: unknown): void
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void
  let reject!: (reason: unknown) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

// Captured at import, before any test fakes timers: a real macrotask drains every pending microtask.
const realSetImmediate = globalThis.setImmediate

/** Lets every promise chain that does not wait for a timer run to its end (works under fake timers). */
export async function flush(rounds = 3): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => realSetImmediate(resolve))
}

/** The observable state of a promise, updated as it settles (never leaves a rejection unhandled). */
export interface Tracked<T> {
  status: 'pending' | 'fulfilled' | 'rejected'
  value?: T
  reason?: unknown
  promise: Promise<T>
}

export function track<T>(promise: Promise<T>): Tracked<T> {
  const state: Tracked<T> = { status: 'pending', promise }
  promise.then(
    (value) => {
      state.status = 'fulfilled'
      state.value = value
    },
    (reason: unknown) => {
      state.status = 'rejected'
      state.reason = reason
    },
  )
  return state
}

/** A refresh function for tests that never refresh: it rejects, and says so. */
export const unusedRefresh: RefreshFn = () => Promise.reject(new Error('unused'))

/** One call of a controlled refresh function. */
export interface RefreshCall {
  refreshToken: string | null
  signal: AbortSignal
  resolve(tokens: TokenSet): void
  reject(error: unknown): void
}

/** A refresh function whose every call waits until the test settles it. */
export function controlledRefresh() {
  const calls: RefreshCall[] = []
  const fn = vi.fn<RefreshFn>(({ refreshToken, signal }) => {
    const d = deferred<TokenSet>()
    calls.push({ refreshToken, signal, resolve: d.resolve, reject: d.reject })
    return d.promise
  })
  const call = (index: number): RefreshCall => {
    const found = calls.at(index)
    if (!found) throw new Error(`no refresh call #${index} (there were ${calls.length})`)
    return found
  }
  return { fn, calls, call }
}

export type EventName = keyof TokenManagerEvents
export interface RecordedEvent {
  event: EventName
  payload: unknown
}

const eventNames: readonly EventName[] = ['tokens', 'refresh', 'refreshFailed', 'signedOut', 'error']

/** Records every event of `manager`, in order. */
export function recordEvents(manager: TokenManager) {
  const events: RecordedEvent[] = []
  for (const event of eventNames) manager.on(event, (payload: unknown) => void events.push({ event, payload }))
  return {
    events,
    count: (event: EventName) => events.filter((e) => e.event === event).length,
    payloads: <E extends EventName>(event: E) =>
      events.filter((e) => e.event === event).map((e) => e.payload as TokenManagerEvents[E]),
  }
}

/** Error messages, `String(error)` and stacks along the cause chain must not contain any of `secrets`. */
export function expectNoTokenLeak(error: unknown, secrets: readonly string[]): void {
  expect(error).toBeDefined()
  let current: unknown = error
  for (let depth = 0; current !== undefined && current !== null && depth < 5; depth++) {
    const texts = [String(current)]
    if (current instanceof Error) texts.push(current.message, current.stack ?? '')
    for (const text of texts) for (const secret of secrets) expect(text).not.toContain(secret)
    current = current instanceof Error ? current.cause : undefined
  }
}

/** An error shaped like a fetch/OAuth failure, for classifying as terminal or transient. */
export function httpError(status: number, body?: { error?: string }): Error & { status: number; error?: string } {
  const error = new Error(`POST /token answered ${status}`) as Error & { status: number; error?: string }
  error.status = status
  if (body?.error) error.error = body.error
  return error
}

/** Distinctive token strings, so a leak into a message is easy to spot. */
export const AT1 = 'access-SECRET-one-8f3a'
export const AT2 = 'access-SECRET-two-91bc'
export const AT3 = 'access-SECRET-three-77de'
export const RT1 = 'refresh-SECRET-one-c0ff'
export const RT2 = 'refresh-SECRET-two-beef'
export const ALL_SECRETS = [AT1, AT2, AT3, RT1, RT2] as const

/**
 * The core tests' starting point: a manager signed in with an access token
 * (AT1, refresh token RT1) that expired a second ago, on the clock `Date.now()`
 * (fake in those tests), over a memoryStorage, with a refresh function the test
 * settles call by call (`refresh`) unless `options.refresh` is given. Events
 * are recorded from then on (the login's are not).
 */
export async function expiredSession(options: Partial<TokenManagerOptions> = {}) {
  const refresh = controlledRefresh()
  const storage = memoryStorage()
  const manager = createTokenManager({ refresh: refresh.fn, storage, now: () => Date.now(), ...options })
  await manager.setTokens({ accessToken: AT1, refreshToken: RT1, expiresAt: Date.now() - 1_000 })
  const events = recordEvents(manager)
  return { manager, refresh, storage, events }
}
