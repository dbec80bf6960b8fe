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

const invalid = (name: string, what: string) => new TypeError(`createTokenManager(): "${name}" must be ${what}`)

/** A duration in ms (0 or more, `Infinity` allowed; above 0 when `positive`), clamped to what timers hold. */
function duration(name: string, value: unknown, fallback: number, positive = false): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !(positive ? value > 0 : value >= 0)) throw invalid(name, positive ? 'a number of ms above 0' : 'a number of ms, 0 or more')
  return clampDelay(value)
}

function method<T>(name: string, value: T | undefined, fallback?: T): T {
  const fn = value ?? fallback
  if (typeof fn !== 'function') throw invalid(name, 'a function')
  return fn
}

/** `value` is undefined, or an object with these methods. */
function shaped(name: string, value: unknown, methods: string[], hint: string): void {
  if (value !== undefined && !methods.every((m) => typeof (value as Record<string, unknown> | null)?.[m] === 'function')) {
    throw invalid(name, `an object with ${methods.join(', ')}${hint}`)
  }
}

/**
 * Validates every option of `createTokenManager` (STYLE 5): a wrong one throws
 * a `TypeError` that names it, at creation, not at the first request.
 */
export function readOptions(options: TokenManagerOptions): Settings {
  const { storage, crossTab, retry = {} } = (options ?? {}) as TokenManagerOptions
  shaped('storage', storage, ['get', 'set', 'clear'], ' (for localStorage: webStorage(localStorage))')
  shaped('crossTab', crossTab, ['connect'], ' (crossTab() from "silent-refresh/cross-tab")')
  if (typeof retry !== 'object' || retry === null) throw invalid('retry', 'an object such as { attempts: 2 }')
  const attempts = retry.attempts ?? 2
  if (!Number.isInteger(attempts) || attempts < 0) throw invalid('retry.attempts', 'a whole number, 0 or more')
  return {
    refresh: method('refresh', options?.refresh),
    storage,
    windowMs: duration('refreshBeforeExpiryMs', options.refreshBeforeExpiryMs, 30_000),
    timeoutMs: duration('refreshTimeoutMs', options.refreshTimeoutMs, 15_000, true),
    storageTimeoutMs: duration('storageTimeoutMs', options.storageTimeoutMs, 5_000, true),
    attempts,
    baseDelayMs: duration('retry.baseDelayMs', retry.baseDelayMs, 300),
    cooldownMs: duration('retry.cooldownMs', retry.cooldownMs, 5_000),
    isTerminal: method('isSessionExpired', options.isSessionExpired, isSessionExpired),
    crossTab,
    now: method('now', options.now, Date.now),
  }
}
