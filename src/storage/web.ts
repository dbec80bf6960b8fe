import type { TokenSet, TokenStorage } from '../core/types.js'

/** The part of the Web Storage API used: `localStorage` and `sessionStorage` fit. */
export interface WebStorageLike {
  getItem(key: string): string | null
  setItem(key: string, value: string): void
  removeItem(key: string): void
}

/**
 * Keeps tokens in `localStorage` or `sessionStorage` as JSON under `key`.
 * Pass the storage in (nothing is touched at import time, so SSR is safe).
 * Throws from the storage (quota, private mode) make the manager fall back to memory.
 *
 * @example
 * createTokenManager({ refresh, storage: webStorage(window.localStorage) })
 */
export function webStorage(storage: WebStorageLike, key = 'silent-refresh'): TokenStorage {
  if (!storage || typeof storage.getItem !== 'function') throw new TypeError('webStorage(storage): "storage" must be a Web Storage such as localStorage')
  return {
    get: () => parse(storage.getItem(key), key),
    set: (tokens) => storage.setItem(key, JSON.stringify(tokens)),
    clear: () => storage.removeItem(key),
  }
}

/** Parses a stored token set; a value that is not one throws, and the manager reports it. */
export function parse(raw: string | null | undefined, key: string): TokenSet | null {
  if (raw == null) return null
  let value: unknown
  try {
    value = JSON.parse(raw)
  } catch {
    throw new TypeError(`The value stored under "${key}" is not JSON`)
  }
  return value as TokenSet
}
