import type { TokenSet } from '../../core/types.js'

/**
 * The coordination record every tab of one key shares: the tokens in force
 * (`null` after a sign-out) and a revision that only grows. It lives in
 * IndexedDB because a committed IndexedDB transaction is visible to the next
 * transaction of any tab, unlike a `localStorage` write, which reaches other
 * tabs asynchronously (the next tab can hold the lock before it sees it).
 */
export interface CrossTabRecord {
  rev: number
  tokens: TokenSet | null
}

/** The record of one key: read, and compare-and-set. */
export interface RecordStore {
  get(): Promise<CrossTabRecord | undefined>
  /**
   * Writes `tokens` as a new revision in one transaction, unless they are
   * already the record's tokens, or (with `expectedRev`) the record moved on
   * since it was read. Resolves with the record as it stands after the
   * transaction and whether this call wrote it. `expectedRev` 0 means "no record yet".
   */
  put(tokens: TokenSet | null, expectedRev?: number): Promise<{ record: CrossTabRecord; wrote: boolean } | undefined>
  close(): void
}

const STORE = 'records'

const done = <T>(request: IDBRequest<T>): Promise<T> =>
  new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result)
    request.onerror = () => reject(request.error)
  })

const sameTokens = (a: TokenSet | null | undefined, b: TokenSet | null | undefined) => (a?.accessToken ?? null) === (b?.accessToken ?? null)

/** Opens (creating on first use) the database `name` and serves the record under `key`. */
export function openRecordStore(idb: IDBFactory, name: string, key: string): RecordStore {
  let db: Promise<IDBDatabase> | undefined
  let closed = false
  const open = () =>
    (db ??= new Promise<IDBDatabase>((resolve, reject) => {
      const request = idb.open(name, 1)
      request.onupgradeneeded = () => request.result.createObjectStore(STORE)
      request.onsuccess = () => {
        const opened = request.result
        // A future version of this library upgrading the database must not wait for this tab.
        opened.onversionchange = () => opened.close()
        if (closed) opened.close()
        resolve(opened)
      }
      request.onerror = () => reject(request.error)
      request.onblocked = () => reject(new Error(`IndexedDB "${name}" is blocked by another tab`))
    }))

  // Transactions are created in call order once the database is open, so a
  // read asked for after a write of this tab sees that write.
  const transaction = async <T>(mode: IDBTransactionMode, body: (store: IDBObjectStore) => Promise<T>): Promise<T> => {
    const tx = (await open()).transaction(STORE, mode)
    const committed = new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => resolve()
      tx.onerror = () => reject(tx.error)
      tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'))
    })
    const result = await body(tx.objectStore(STORE))
    await committed
    return result
  }

  return {
    get: () => transaction('readonly', (store) => done(store.get(key) as IDBRequest<CrossTabRecord | undefined>)),
    put: (tokens, expectedRev) =>
      transaction('readwrite', async (store) => {
        const current = await done(store.get(key) as IDBRequest<CrossTabRecord | undefined>)
        if (current && (sameTokens(current.tokens, tokens) || (expectedRev !== undefined && current.rev !== expectedRev))) {
          return { record: current, wrote: false }
        }
        if (!current && expectedRev) return undefined
        // Time-based, so revisions stay comparable with those a tab without IndexedDB makes up.
        const record: CrossTabRecord = { rev: Math.max((current?.rev ?? 0) + 1, Date.now()), tokens }
        store.put(record, key)
        return { record, wrote: true }
      }),
    close() {
      closed = true
      void db?.then((opened) => opened.close(), () => {})
    },
  }
}

export { sameTokens }
