import type { AsyncStorageLike, SecureStoreLike, TokenSet, TokenStorage, WebStorageLike } from '../../src/index.js'
import { deferred, type Deferred } from './core-harness.js'

type Fault = 'get' | 'set' | 'clear'

/** A Web Storage (the part `webStorage` uses) backed by a Map, with faults to switch on. */
export class MapWebStorage implements WebStorageLike {
  readonly map = new Map<string, string>()
  readonly throwing = new Set<'getItem' | 'setItem' | 'removeItem'>()
  getItem(key: string): string | null {
    if (this.throwing.has('getItem')) throw new DOMException('The operation is insecure.', 'SecurityError')
    return this.map.get(key) ?? null
  }
  setItem(key: string, value: string): void {
    if (this.throwing.has('setItem')) throw new DOMException('Quota exceeded', 'QuotaExceededError')
    this.map.set(key, value)
  }
  removeItem(key: string): void {
    if (this.throwing.has('removeItem')) throw new DOMException('The operation is insecure.', 'SecurityError')
    this.map.delete(key)
  }
}

/** An AsyncStorage-like object backed by a Map; each call resolves on a later macrotask. */
export class MapAsyncStorage implements AsyncStorageLike {
  readonly map = new Map<string, string>()
  readonly rejecting = new Set<'getItem' | 'setItem' | 'removeItem'>()
  /** When set, getItem waits for this before answering. */
  gate: Deferred<void> | undefined
  private async tick(op: 'getItem' | 'setItem' | 'removeItem'): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve))
    if (this.rejecting.has(op)) throw new Error(`${op} failed: storage unavailable`)
  }
  async getItem(key: string): Promise<string | null> {
    if (this.gate) await this.gate.promise
    await this.tick('getItem')
    return this.map.get(key) ?? null
  }
  async setItem(key: string, value: string): Promise<void> {
    await this.tick('setItem')
    this.map.set(key, value)
  }
  async removeItem(key: string): Promise<void> {
    await this.tick('removeItem')
    this.map.delete(key)
  }
}

/** A TokenStorage whose methods throw synchronously (`mode: 'sync'`) or reject (`'async'`) when told to. */
export function faultyStorage(mode: 'sync' | 'async', initial: TokenSet | null = null) {
  let value: TokenSet | null = initial
  const faults = new Set<Fault>()
  const calls: Array<{ op: Fault; tokens?: TokenSet }> = []
  const fail = (op: Fault): Error => new Error(`storage ${op} failed (${mode})`)
  const storage: TokenStorage = {
    get() {
      calls.push({ op: 'get' })
      if (faults.has('get')) {
        if (mode === 'sync') throw fail('get')
        return Promise.reject(fail('get'))
      }
      return mode === 'sync' ? value : Promise.resolve(value)
    },
    set(tokens) {
      calls.push({ op: 'set', tokens })
      if (faults.has('set')) {
        if (mode === 'sync') throw fail('set')
        return Promise.reject(fail('set'))
      }
      value = { ...tokens }
      return mode === 'sync' ? undefined : Promise.resolve()
    },
    clear() {
      calls.push({ op: 'clear' })
      if (faults.has('clear')) {
        if (mode === 'sync') throw fail('clear')
        return Promise.reject(fail('clear'))
      }
      value = null
      return mode === 'sync' ? undefined : Promise.resolve()
    },
  }
  return { storage, faults, calls, current: () => value }
}

/** A storage whose get() waits until the test releases it. */
export function slowStorage(stored: TokenSet | null) {
  const gate = deferred<TokenSet | null>()
  const sets: TokenSet[] = []
  const storage: TokenStorage = {
    get: () => gate.promise,
    set: (tokens) => void sets.push(tokens),
    clear: () => undefined,
  }
  return { storage, sets, release: () => gate.resolve(stored), fail: (error: unknown) => gate.reject(error) }
}

/** The shape of expo-secure-store: async, with an options object on every call. */
interface ExpoOptions {
  keychainAccessible?: number
}
/** expo-secure-store in memory, recording every call with its options. */
export function fakeSecureStore() {
  const map = new Map<string, string>()
  const calls: { method: string; key: string; options: ExpoOptions | undefined }[] = []
  const store = {
    map,
    calls,
    async getItemAsync(key: string, options?: ExpoOptions) {
      calls.push({ method: 'get', key, options })
      return map.get(key) ?? null
    },
    async setItemAsync(key: string, value: string, options?: ExpoOptions) {
      calls.push({ method: 'set', key, options })
      map.set(key, value)
    },
    async deleteItemAsync(key: string, options?: ExpoOptions) {
      calls.push({ method: 'delete', key, options })
      map.delete(key)
    },
  }
  return store satisfies SecureStoreLike<ExpoOptions>
}
