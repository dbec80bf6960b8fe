import type { TokenManagerOptions } from './types.js'

const number = (name: string, value: unknown, fallback: number, min: number): number => {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !(value >= min) || value === Infinity) {
    throw new TypeError(`"${name}" must be a number ${min ? `of at least ${min}` : 'of 0 or more'}`)
  }
  return value
}

/** Validates the options of createTokenManager and fills in the defaults. */
export function checkOptions(options: TokenManagerOptions) {
  if (!options || typeof options.refresh !== 'function') throw new TypeError('"refresh" must be a function')
  for (const name of ['isSessionExpired', 'now'] as const) {
    if (options[name] !== undefined && typeof options[name] !== 'function') throw new TypeError(`"${name}" must be a function`)
  }
  const retry = options.retry ?? { attempts: 2, baseDelayMs: 300 }
  const attempts = number('retry.attempts', retry.attempts, 2, 0)
  if (!Number.isInteger(attempts)) throw new TypeError('"retry.attempts" must be a whole number')
  return {
    windowMs: number('refreshBeforeExpiryMs', options.refreshBeforeExpiryMs, 30_000, 0),
    timeoutMs: number('refreshTimeoutMs', options.refreshTimeoutMs, 15_000, 1),
    attempts,
    baseDelayMs: number('retry.baseDelayMs', retry.baseDelayMs, 300, 0),
  }
}
