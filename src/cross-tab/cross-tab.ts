import type { CrossTab, CrossTabHost, CrossTabLink, TokenManager, TokenSet } from '../core/types.js'
import { openRecordStore, sameTokens, type CrossTabRecord, type RecordStore } from './internal/record.js'

/** Options of {@link crossTab}. */
export interface CrossTabOptions {
  /** Scopes one session: tabs with the same key share a lock, a channel and a record. @default 'silent-refresh' */
  key?: string
  /**
   * How long a tab waits for the refresh lock before taking it over from a holder
   * that hangs (a tab that closes releases it at once). Keep it above the manager's
   * `refreshTimeoutMs`. @default 20_000
   */
  lockTimeoutMs?: number
  /**
   * How long, inside the lock, a tab waits for its storage to show tokens another
   * tab already wrote (`localStorage` reaches other tabs asynchronously). @default 1_000
   */
  settleMs?: number
}

/** What a tab tells the others over the BroadcastChannel. */
interface Message {
  rev: number
  tokens: TokenSet | null
}

/** A step of `exclusive`: its result, or something to do outside the lock first. */
type Step = { result: TokenSet | null } | { sync: CrossTabRecord } | { repair: CrossTabRecord }

const PREFIX = 'silent-refresh:'
const POLL_MS = 10

const whole = (name: string, value: number | undefined, fallback: number): number => {
  if (value === undefined) return fallback
  if (Number.isInteger(value) && value >= 0) return value
  throw new TypeError(`crossTab(): "${name}" must be a whole number of 0 or more`)
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Whether stored tokens are a newer set than the record's (a record write that failed). */
const newer = (stored: TokenSet, record: TokenSet | null) =>
  record !== null && typeof stored.expiresAt == 'number' && typeof record.expiresAt == 'number' && stored.expiresAt > record.expiresAt

/**
 * One refresh across the browser tabs of a session, and token sync: pass it
 * as `crossTab` to `createTokenManager`.
 *
 * - A Web Lock (`navigator.locks`) is held around every refresh; the next tab
 *   to get it finds the new tokens in an IndexedDB record written inside the
 *   lock, and adopts them instead of refreshing (a rotated refresh token is
 *   never presented twice).
 * - New tokens and sign-outs reach the other tabs over a `BroadcastChannel`,
 *   whatever storage each tab uses.
 * - A tab that becomes visible or goes back online re-checks expiry once.
 *
 * Where Web Locks, BroadcastChannel or IndexedDB are missing the manager
 * reports an `error` event (source `'cross-tab'`) and each tab refreshes on its own.
 * Nothing is touched before the manager connects, so importing is safe anywhere.
 *
 * @example
 * import { crossTab } from 'silent-refresh/cross-tab'
 * const manager = createTokenManager({ refresh, storage: webStorage(localStorage), crossTab: crossTab() })
 */
export function crossTab(options: CrossTabOptions = {}): CrossTab {
  const key = options.key ?? 'silent-refresh'
  if (typeof key != 'string' || !key) throw new TypeError('crossTab(): "key" must be a non-empty string')
  const lockTimeoutMs = whole('lockTimeoutMs', options.lockTimeoutMs, 20_000)
  const settleMs = whole('settleMs', options.settleMs, 1_000)
  return { connect: (host, manager) => connect(host, manager, key, lockTimeoutMs, settleMs) }
}

function connect(host: CrossTabHost, manager: TokenManager, key: string, lockTimeoutMs: number, settleMs: number): CrossTabLink {
  const { navigator: nav, BroadcastChannel: Channel, indexedDB: idb, document: doc } = globalThis
  const locks = nav?.locks
  const missing = [!locks && 'Web Locks', !Channel && 'BroadcastChannel', !idb && 'IndexedDB'].filter(Boolean)
  if (missing.length) {
    throw new Error(`crossTab(): ${missing.join(', ')} not available here; each tab refreshes on its own`)
  }

  const name = PREFIX + key
  const channel = new Channel(name)
  const records: RecordStore = openRecordStore(idb, 'silent-refresh-cross-tab', key)
  /** Aborts lock requests still queued when the link closes. */
  const life = new AbortController()
  /** The newest revision this tab has taken in (written, received or read). */
  let applied: number | undefined
  /** Tokens of a refresh that lost its compare-and-set: another tab changed the session meanwhile. */
  let discarded: string | undefined
  /** The storage does not follow other tabs' writes (memoryStorage, sessionStorage): repair at once. */
  let perTab = false
  let closed = false

  const read = () => records.get().catch(() => undefined)

  const post = (record: CrossTabRecord) => {
    applied = record.rev
    if (!closed) channel.postMessage({ rev: record.rev, tokens: record.tokens } satisfies Message)
  }

  /** Takes in a record this tab had not seen. Never called with the lock held: listeners run here. */
  const take = (record: { rev: number; tokens: TokenSet | null }) => {
    if (closed || (applied !== undefined && record.rev <= applied)) return
    applied = record.rev
    host.receive(record.tokens)
    if (record.tokens) void settle(record.rev, record.tokens)
  }

  /** Whether this tab's storage shows `tokens` (or something newer), waiting up to `ms` for a lagging write. */
  const shows = async (tokens: TokenSet | null, ms: number): Promise<boolean> => {
    for (const deadline = Date.now() + ms; ; await sleep(POLL_MS)) {
      const stored = await host.read()
      // Nothing stored: the manager refreshes from the tokens it holds, which are the record's.
      if (!stored || sameTokens(stored, tokens) || newer(stored, tokens)) return true
      if (Date.now() >= deadline) return false
    }
  }

  /**
   * A storage of this tab alone (memory, sessionStorage) never sees another tab's
   * tokens, and the manager's re-read under the lock would find the old ones:
   * write the received tokens into it, unless a refresh of this tab is under way.
   */
  const settle = async (rev: number, tokens: TokenSet) => {
    if (await shows(tokens, perTab ? 0 : settleMs)) return
    perTab = true
    if (!closed && applied === rev && !manager.isRefreshing) await manager.setTokens(tokens).catch(() => {})
  }

  /** Runs `fn` holding the lock; after `lockTimeoutMs` takes it over from a holder that hangs. */
  const locked = async <T>(fn: () => Promise<T>): Promise<T> => {
    const waited = new AbortController()
    const stop = () => waited.abort(life.signal.reason)
    life.signal.addEventListener('abort', stop)
    let granted = false
    const timer = setTimeout(() => waited.abort(new DOMException('Lock wait timed out', 'TimeoutError')), lockTimeoutMs)
    try {
      return await locks.request(name, { signal: waited.signal }, () => {
        granted = true
        clearTimeout(timer)
        return fn()
      })
    } catch (error) {
      if (granted || closed || !waited.signal.aborted) throw error
      // Longer than any refresh should take (its own timeout is shorter): the holder hangs.
      // A tab that closes releases the lock by itself; this is for one that froze.
      return locks.request(name, { steal: true }, fn)
    } finally {
      clearTimeout(timer)
      life.signal.removeEventListener('abort', stop)
    }
  }

  const wake = () => {
    if (doc?.visibilityState != 'hidden') manager.getAccessToken().catch(() => {})
  }

  channel.onmessage = (event: MessageEvent<Message>) => {
    const data = event.data
    if (typeof data?.rev == 'number' && typeof data.tokens == 'object') take(data)
  }
  doc?.addEventListener('visibilitychange', wake)
  globalThis.addEventListener?.('online', wake)
  // A tab opened after the others signed in (memoryStorage) starts with their session.
  void read().then((record) => record && take(record))

  return {
    async exclusive(task) {
      for (let round = 0; ; round++) {
        const step: Step = await locked(async (): Promise<Step> => {
          const record = await read()
          if (record && round < 3) {
            // Another tab changed the session since this one last heard: hand its tokens to the
            // manager (outside the lock), which settles this refresh with them instead of refreshing.
            if (applied === undefined || record.rev > applied) return { sync: record }
            // The storage may not show the record's tokens yet; the manager's re-read must not find older ones.
            const current = record.rev === applied && manager.isRefreshing
            if (current && !(await shows(record.tokens, perTab ? 0 : settleMs))) return { repair: record }
          }
          const result = await task()
          const next = result
          if (next && !sameTokens(next, record?.tokens)) {
            // Inside the lock: the next holder reads this record before anything else.
            const put = await records.put(next, record?.rev ?? 0).catch(() => undefined)
            if (put?.wrote) post(put.record)
            else if (put) discarded = next.accessToken
          }
          return { result }
        })
        if ('result' in step) return step.result
        if ('sync' in step) take(step.sync)
        else {
          perTab = true
          applied = step.repair.rev
          const tokens = step.repair.tokens
          await (tokens ? manager.setTokens(tokens) : manager.clear()).catch(() => {})
        }
      }
    },

    publish(tokens) {
      if (closed) return
      if (tokens && tokens.accessToken === discarded) {
        // This tab's refresh lost to a change made meanwhile in another tab: take that change in.
        discarded = undefined
        void read().then((record) => {
          if (!record || closed) return
          applied = Math.max(record.rev, applied ?? 0)
          host.receive(record.tokens)
        })
        return
      }
      void records.put(tokens).then(
        (put) => put?.wrote && post(put.record),
        // No record (IndexedDB failed at run time): tell the other tabs all the same.
        () => post({ rev: Math.max(Date.now(), (applied ?? 0) + 1), tokens }),
      )
    },

    close() {
      if (closed) return
      closed = true
      life.abort(new DOMException('The token manager was disposed', 'AbortError'))
      channel.close()
      records.close()
      doc?.removeEventListener('visibilitychange', wake)
      globalThis.removeEventListener?.('online', wake)
    },
  }
}
