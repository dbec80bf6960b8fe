import type { TokenStorage } from '../core/types.js'
import { parse } from './web.js'

/** `@react-native-async-storage/async-storage` and any storage of the same shape. */
export interface AsyncStorageLike {
  getItem(key: string): Promise<string | null>
  setItem(key: string, value: string): Promise<void>
  removeItem(key: string): Promise<void>
}

/**
 * `expo-secure-store` and other Keychain / Keystore storages of the same shape.
 * `O` is the storage's own options object (such as `{ keychainAccessible }`).
 */
export interface SecureStoreLike<O = never> {
  getItemAsync(key: string, options?: O): Promise<string | null>
  setItemAsync(key: string, value: string, options?: O): Promise<void>
  deleteItemAsync(key: string, options?: O): Promise<void>
}

/**
 * Keeps tokens in an async key-value storage (React Native's AsyncStorage) as JSON under `key`.
 * AsyncStorage is not encrypted: on mobile, prefer {@link secureStorage} for refresh tokens.
 *
 * @example
 * import AsyncStorage from '@react-native-async-storage/async-storage'
 * createTokenManager({ refresh, storage: asyncStorage(AsyncStorage) })
 */
export function asyncStorage(storage: AsyncStorageLike, key = 'silent-refresh'): TokenStorage {
  if (!storage || typeof storage.getItem !== 'function') throw new TypeError('asyncStorage(storage): "storage" must have getItem, setItem and removeItem (for getItemAsync, use secureStorage)')
  return {
    get: async () => parse(await storage.getItem(key), key),
    set: (tokens) => storage.setItem(key, JSON.stringify(tokens)),
    clear: () => storage.removeItem(key),
  }
}

/**
 * Keeps tokens in the device's secure storage (iOS Keychain, Android Keystore)
 * through `expo-secure-store` or any storage with `getItemAsync`, `setItemAsync`
 * and `deleteItemAsync`. `options` goes to every call: with refreshes while the
 * app is in the background, use a Keychain class readable when locked.
 * Keys of Keychain-style stores allow only letters, digits, `.`, `-` and `_`.
 *
 * @example
 * import * as SecureStore from 'expo-secure-store'
 * createTokenManager({
 *   refresh,
 *   storage: secureStorage(SecureStore, 'session', { keychainAccessible: SecureStore.AFTER_FIRST_UNLOCK }),
 * })
 */
export function secureStorage<O = never>(store: SecureStoreLike<O>, key = 'silent-refresh', options?: O): TokenStorage {
  if (!store || typeof store.getItemAsync !== 'function') throw new TypeError('secureStorage(store): "store" must have getItemAsync, setItemAsync and deleteItemAsync')
  return {
    get: async () => parse(await store.getItemAsync(key, options), key),
    set: (tokens) => store.setItemAsync(key, JSON.stringify(tokens), options),
    clear: () => store.deleteItemAsync(key, options),
  }
}
