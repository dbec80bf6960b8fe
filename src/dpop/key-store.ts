/** A key pair as the key store keeps it; `id` tells one pair from another after a round trip through storage. */
export interface DPoPKeyPair {
  readonly privateKey: CryptoKey
  readonly publicKey: CryptoKey
  readonly id: string
}

/**
 * Where the DPoP key pair lives. Each method may be sync or async. A pair is a
 * pair of `CryptoKey`s: IndexedDB keeps them as they are (structured clone, the
 * private key still non-extractable); a store that can only keep strings
 * cannot keep them, so React Native keeps them in memory or in a native store
 * that keeps key handles.
 */
export interface DPoPKeyStore {
  /** The pair kept under `name`, if any. */
  get(name: string): DPoPKeyPair | undefined | Promise<DPoPKeyPair | undefined>
  /** Keeps `pair` under `name` unless a pair is there already (tabs that race must end with one pair). */
  set(name: string, pair: DPoPKeyPair): void | Promise<void>
  /** Forgets the pair under `name` if it is still `pair` (another tab may have made a new one since). */
  delete(name: string, pair: DPoPKeyPair): void | Promise<void>
}

/** Keeps key pairs in memory: for Node, and wherever no store is given and there is no IndexedDB. */
export function memoryKeyStore(): DPoPKeyStore {
  const pairs = new Map<string, DPoPKeyPair>()
  return {
    get: (name) => pairs.get(name),
    set(name, pair) {
      if (!pairs.has(name)) pairs.set(name, pair)
    },
    delete(name, pair) {
      if (pairs.get(name)?.id === pair.id) pairs.delete(name)
    },
  }
}

const STORE = 'keys'

/**
 * Keeps key pairs in IndexedDB (the browser default): they survive reloads and
 * every tab of the origin sees the same pair. A `CryptoKey` is stored by
 * structured clone; a non-extractable private key stays non-extractable.
 */
export function indexedDbKeyStore(database = 'silent-refresh-dpop', idb: IDBFactory = indexedDB): DPoPKeyStore {
  let opened: Promise<IDBDatabase> | undefined
  const open = () =>
    (opened ??= new Promise<IDBDatabase>((resolve, reject) => {
      const request = idb.open(database, 1)
      request.onupgradeneeded = () => request.result.createObjectStore(STORE)
      request.onsuccess = () => resolve(request.result)
      request.onerror = () => {
        opened = undefined
        reject(request.error)
      }
    }))
  /** One transaction; resolves with the result of the request `work` returns, once the transaction has committed. */
  const run = async <T>(mode: IDBTransactionMode, work: (store: IDBObjectStore) => IDBRequest | void): Promise<T> => {
    const db = await open()
    return new Promise<T>((resolve, reject) => {
      const transaction = db.transaction(STORE, mode)
      const request = work(transaction.objectStore(STORE))
      transaction.oncomplete = () => resolve(request?.result as T)
      transaction.onerror = transaction.onabort = () => reject(transaction.error)
    })
  }
  return {
    get: (name) => run<DPoPKeyPair | undefined>('readonly', (store) => store.get(name)),
    set: (name, pair) =>
      run('readwrite', (store) => {
        // add() refuses a name that is taken: the first tab's pair wins, and the transaction goes on
        // (the error neither aborts it nor reaches its onerror).
        const request = store.add(pair, name)
        request.onerror = (event) => {
          event.preventDefault()
          event.stopPropagation()
        }
      }),
    delete: (name, pair) =>
      run('readwrite', (store) => {
        const request = store.get(name)
        request.onsuccess = () => {
          if ((request.result as DPoPKeyPair | undefined)?.id === pair.id) store.delete(name)
        }
      }),
  }
}
