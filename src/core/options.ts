import { isSessionExpired } from './errors.js'
import { clampDelay } from './internal/timers.js'
import type { CrossTab, RefreshFn, TokenManagerOptions, TokenStorage } from './types.js'

/** Options after validation, with defaults filled in and durations clamped to what timers hold. */
export interface Settings {
  refresh: RefreshFn
  storage: TokenStorage | undefined
  windowMs: number
  timeoutMs: number
  storageTimeoutMs: number
  attempts: number
  baseDelayMs: number
  cooldownMs: number
  isTerminal: (error: unknown) => boolean
  crossTab: CrossTab | undefined
  now: () => number
}

const fail = (name: string, what: string): never => {
  throw new TypeError(`createTokenManager(): "${name}" must be ${what}`)
}

/** A duration in ms: a number of 0 or more (`Infinity` allowed), or positive when `positive`; clamped for timers. */
function duration(name: string, value: unknown, fallback: number, positive = false): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0 || (positive && value === 0)) {
    fail(name, positive ? 'a number of milliseconds above 0' : 'a number of milliseconds, 0 or more')
  }
  return clampDelay(value as number)
}

function fn<T>(name: string, value: unknown, fallback?: T): T {
  if (value === undefined && fallback !== undefined) return fallback
  if (typeof value !== 'function') fail(name, 'a function')
  return value as T
}

function object(name: string, value: unknown, methods: readonly string[], hint = ''): void {
  const target = value as Record<string, unknown> | null
  if (typeof target !== 'object' || target === null || methods.some((m) => typeof target[m] !== 'function')) {
    fail(name, `an object with ${methods.join(', ')}${hint}`)
  }
}

/**
 * Validates every option of `createTokenManager` (STYLE 5): a wrong one throws
 * a `TypeError` that names it, at creation, not at the first request.
 */
export function readOptions(options: TokenManagerOptions): Settings {
  if (typeof options !== 'object' || options === null) throw new TypeError('createTokenManager(options): pass { refresh }')
  const { storage, retry = {}, crossTab } = options
  if (storage !== undefined) object('storage', storage, ['get', 'set', 'clear'], ' (for localStorage, pass webStorage(localStorage))')
  if (crossTab !== undefined) object('crossTab', crossTab, ['connect'], ' (from crossTab() of "silent-refresh/cross-tab")')
  if (typeof retry !== 'object' || retry === null) fail('retry', 'an object such as { attempts: 2, baseDelayMs: 300 }')
  const attempts = retry.attempts ?? 2
  if (!Number.isInteger(attempts) || attempts < 0) fail('retry.attempts', 'a whole number, 0 or more')
  return {
    refresh: fn('refresh', options.refresh),
    storage,
    windowMs: duration('refreshBeforeExpiryMs', options.refreshBeforeExpiryMs, 30_000),
    timeoutMs: duration('refreshTimeoutMs', options.refreshTimeoutMs, 15_000, true),
    storageTimeoutMs: duration('storageTimeoutMs', options.storageTimeoutMs, 5_000, true),
    attempts,
    baseDelayMs: duration('retry.baseDelayMs', retry.baseDelayMs, 300),
    cooldownMs: duration('retry.cooldownMs', retry.cooldownMs, 5_000),
    isTerminal: fn('isSessionExpired', options.isSessionExpired, isSessionExpired),
    crossTab,
    now: fn('now', options.now, Date.now),
  }
}
