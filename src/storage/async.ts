import type { TokenStorage } from '../core/types.js'
import { parse } from './web.js'

/** `@react-native-async-storage/async-storage` and any storage of the same shape. */
export interface AsyncStorageLike {
  getItem(key: string): Promise<string | null>
  setItem(key: string, value: string): Promise<void>
  removeItem(key: string): Promise<void>
}

/**
 * Keeps tokens in an async key-value storage (React Native's AsyncStorage) as JSON under `key`.
 *
 * @example
 * import AsyncStorage from '@react-native-async-storage/async-storage'
 * createTokenManager({ refresh, storage: asyncStorage(AsyncStorage) })
 */
export function asyncStorage(storage: AsyncStorageLike, key = 'silent-refresh'): TokenStorage {
  if (!storage || typeof storage.getItem !== 'function') throw new TypeError('asyncStorage(storage): "storage" must have getItem, setItem and removeItem')
  return {
    get: async () => parse(await storage.getItem(key), key),
    set: (tokens) => storage.setItem(key, JSON.stringify(tokens)),
    clear: () => storage.removeItem(key),
  }
}
