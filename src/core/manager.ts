import { AuthError, RefreshFailedError, SessionExpiredError, isSessionExpired as defaultIsSessionExpired } from './errors.js'
import { isDue, toSession, toTokenSet, type Session } from './expiry.js'
import { unrefTimer, withSignal } from './internal/abort.js'
import { checkOptions } from './options.js'
import type { CrossTabLink, TokenManager, TokenManagerEvents, TokenManagerOptions, TokenSet, TokenStorage } from './types.js'

/** One refresh, shared by every caller while it is in flight. */
interface Flight {
  promise: Promise<string>
  resolve(token: string): void
  reject(error: unknown): void
  /** Aborted when the flight is superseded (setTokens, clear, another tab, dispose). */
  controller: AbortController
}

type Listener = (payload: never) => void

const eventNames: readonly string[] = ['tokens', 'refresh', 'refreshFailed', 'signedOut', 'error']

/**
 * Creates a token manager: it hands out a valid access token, refreshes before
 * expiry, and runs at most one refresh at a time for all callers.
 *
 * @example
 * const manager = createTokenManager({
 *   refresh: refreshTokenGrant({ url: '/auth/token' }),
 *   storage: webStorage(localStorage),
 * })
 * await manager.setTokens({ accessToken, refreshToken }) // after login
 */
export function createTokenManager(options: TokenManagerOptions): TokenManager {
  const { windowMs, timeoutMs, attempts, baseDelayMs } = checkOptions(options)
  const refreshFn = options.refresh
  const isTerminal = options.isSessionExpired ?? defaultIsSessionExpired
  const now = options.now ?? Date.now
  const listeners = new Map<string, Set<Listener>>()

  let storage: TokenStorage | undefined = options.storage
  let session: Session | null = null
  /** How the last session ended: a 401 for its token means SESSION_EXPIRED, not NOT_SIGNED_IN. */
  let ended: 'expired' | 'cleared' | 'remote' | undefined
  /** Bumped on every change of session, so a slow storage read never overwrites a newer one. */
  let epoch = 0
  let loaded = false
  let loading: Promise<void> | undefined
  let flight: Flight | undefined
  let disposed = false
  let writes: Promise<unknown> = Promise.resolve()
  let link: CrossTabLink | undefined

  const emit = <E extends keyof TokenManagerEvents>(event: E, payload: TokenManagerEvents[E]): void => {
    for (const listener of [...(listeners.get(event) ?? [])]) {
      try {
        ;(listener as (payload: TokenManagerEvents[E]) => void)(payload)
      } catch (error) {
        if (event !== 'error') emit('error', { error, source: 'listener' })
      }
    }
  }

  const disposedError = () => new AuthError('DISPOSED', 'The token manager was disposed')
  const notSignedIn = () => new AuthError('NOT_SIGNED_IN', 'Not signed in: call setTokens() after login')

  /** Storage faults (quota, private mode) degrade to memory: requests keep working. */
  const storageFault = (error: unknown) => {
    storage = undefined
    emit('error', { error, source: 'storage' })
  }

  const persist = (tokens: TokenSet | null): Promise<void> => {
    // Writes are chained so an async storage always ends with the newest value.
    const write = writes.then(async () => {
      if (!storage) return
      try {
        await (tokens ? storage.set(tokens) : storage.clear())
      } catch (error) {
        storageFault(error)
      }
    })
    writes = write
    return write
  }

  const readStorage = async (): Promise<Session | null> => {
    try {
      const stored = storage ? await storage.get() : null
      if (stored == null) return null
      if (typeof stored.accessToken !== 'string' || !stored.accessToken) throw new TypeError('Stored tokens have no accessToken')
      return toSession(stored, now())
    } catch (error) {
      // Unreadable is not the same as unwritable: report, start signed out, keep the storage.
      emit('error', { error, source: 'storage' })
      return null
    }
  }

  const ensureLoaded = (): Promise<void> | undefined => {
    if (loaded) return undefined
    return (loading ??= (async () => {
      const before = epoch
      const stored = await readStorage()
      if (epoch === before && !loaded) {
        session = stored
        loaded = true
      }
    })())
  }

  /** Replaces the session. `origin` says where the tokens came from, for persisting and publishing. */
  const commit = (next: Session | null, origin: 'local' | 'remote', reason?: 'expired' | 'cleared' | 'remote') => {
    session = next
    ended = next ? undefined : reason
    loaded = true
    epoch++
    const tokens = next && toTokenSet(next)
    const written = origin === 'local' ? persist(tokens) : Promise.resolve()
    if (origin === 'local') link?.publish(tokens)
    if (tokens) emit('tokens', tokens)
    else emit('signedOut', { reason: reason ?? 'cleared' })
    return written
  }

  /** Ends the flight in flight, if it is `f`; returns false when it was superseded. */
  const release = (f: Flight) => {
    if (flight !== f) return false
    flight = undefined
    return true
  }

  const supersede = (settle: (f: Flight) => void) => {
    const f = flight
    if (!f) return
    flight = undefined
    f.controller.abort()
    settle(f)
  }

  /** One call of the refresh function, bounded by the timeout and by the flight's life. */
  const attempt = (f: Flight, refreshToken: string | null): Promise<TokenSet> =>
    new Promise<TokenSet>((resolve, reject) => {
      const controller = new AbortController()
      const stop = (error?: unknown) => {
        cancelTimer()
        f.controller.signal.removeEventListener('abort', onSuperseded)
        if (error === undefined) return
        controller.abort(error)
        reject(error)
      }
      const onSuperseded = () => stop(f.controller.signal.reason)
      const cancelTimer = unrefTimer(
        () => stop(new RefreshFailedError('REFRESH_TIMEOUT', `The refresh did not answer within ${timeoutMs} ms`)),
        timeoutMs,
      )
      f.controller.signal.addEventListener('abort', onSuperseded, { once: true })
      new Promise<TokenSet>((run) => run(refreshFn({ refreshToken, signal: controller.signal }))).then(
        (tokens) => {
          stop()
          resolve(tokens)
        },
        stop,
      )
    })

  const sleep = (f: Flight, ms: number) =>
    new Promise<void>((resolve) => {
      const cancel = unrefTimer(done, ms)
      f.controller.signal.addEventListener('abort', done, { once: true })
      function done() {
        cancel()
        f.controller.signal.removeEventListener('abort', done)
        resolve()
      }
    })

  const checkTokens = (tokens: unknown): TokenSet => {
    const set = tokens as TokenSet | null
    if (!set || typeof set !== 'object' || typeof set.accessToken !== 'string' || !set.accessToken) {
      throw new RefreshFailedError('REFRESH_FAILED', 'The refresh function resolved without an accessToken')
    }
    return set
  }

  const run = async (f: Flight) => {
    const from = session
    let refreshToken = from?.refreshToken ?? null
    for (let tries = 0; ; tries++) {
      let failure: unknown
      try {
        let next: Session | null = null
        if (link) {
          // Another tab may have rotated while this one waited for the lock: adopt its tokens.
          const stored = await link.exclusive(async () => {
            const shared = await readStorage()
            if (flight !== f) return null
            if (shared && shared.accessToken !== from?.accessToken) return shared
            refreshToken = shared?.refreshToken ?? refreshToken
            const tokens = checkTokens(await attempt(f, refreshToken))
            return toSession({ ...tokens, refreshToken: tokens.refreshToken === undefined ? refreshToken : tokens.refreshToken }, now())
          })
          next = stored
        } else {
          const tokens = checkTokens(await attempt(f, refreshToken))
          next = toSession({ ...tokens, refreshToken: tokens.refreshToken === undefined ? refreshToken : tokens.refreshToken }, now())
        }
        if (!next || !release(f)) return
        void commit(next, 'local') // waiters need not wait for a slow storage write
        f.resolve(next.accessToken)
        return
      } catch (error) {
        failure = error
      }
      if (flight !== f) return
      let terminal = failure instanceof SessionExpiredError
      if (!terminal && !(failure instanceof RefreshFailedError)) {
        try {
          terminal = isTerminal(failure)
        } catch {
          // a throwing classifier must not leave callers pending: treat as transient
        }
      }
      if (terminal) {
        release(f)
        const error = new SessionExpiredError({ cause: failure })
        emit('refreshFailed', { error })
        void commit(null, 'local', 'expired')
        f.reject(error)
        return
      }
      if (tries < attempts) {
        await sleep(f, baseDelayMs * 2 ** tries * (0.5 + Math.random() / 2))
        if (flight !== f) return
        continue
      }
      release(f)
      const error =
        failure instanceof RefreshFailedError
          ? failure
          : new RefreshFailedError('REFRESH_FAILED', 'The refresh failed; the session is kept, a later call tries again', {
              cause: failure,
            })
      emit('refreshFailed', { error })
      f.reject(error)
      return
    }
  }

  /** Joins the flight in flight, or starts one. */
  const fly = (): Promise<string> => {
    if (flight) return flight.promise
    let resolve!: (token: string) => void
    let reject!: (error: unknown) => void
    const promise = new Promise<string>((res, rej) => {
      resolve = res
      reject = rej
    })
    promise.catch(() => {}) // rejections reach callers; a flight nobody awaits is not unhandled
    const f: Flight = { promise, resolve, reject, controller: new AbortController() }
    flight = f
    emit('refresh', undefined)
    void run(f)
    return promise
  }

  /** A valid token without waiting, or undefined when a wait (load, refresh) is needed. */
  const peek = (): string | null | undefined => {
    if (!loaded || flight || disposed) return undefined
    if (!session) return null
    return isDue(session, now(), windowMs) ? undefined : session.accessToken
  }

  const getAccessToken = async (opts?: { signal?: AbortSignal }): Promise<string | null> => {
    const ready = peek()
    if (ready !== undefined) return ready
    if (disposed) throw disposedError()
    await withSignal(ensureLoaded() ?? Promise.resolve(), opts?.signal)
    const current = session
    if (!current) return null
    if (!flight && !isDue(current, now(), windowMs)) return current.accessToken
    try {
      return await withSignal(fly(), opts?.signal)
    } catch (error) {
      // A proactive refresh that fails for now while the token is still valid keeps using it.
      const stillValid = session === current && current.expiresAt !== undefined && now() < current.expiresAt
      if (error instanceof RefreshFailedError && stillValid) return current.accessToken
      throw error
    }
  }

  const refresh = async (opts: { signal?: AbortSignal; staleToken?: string } = {}): Promise<string> => {
    if (disposed) throw disposedError()
    await withSignal(ensureLoaded() ?? Promise.resolve(), opts.signal)
    if (!flight && opts.staleToken !== undefined) {
      // Stale 401: someone refreshed meanwhile, so the current token is already newer.
      if (session && session.accessToken !== opts.staleToken) return session.accessToken
      if (!session) throw ended === 'cleared' || !ended ? notSignedIn() : new SessionExpiredError()
    }
    return withSignal(fly(), opts.signal)
  }

  const setTokens = async (tokens: TokenSet): Promise<void> => {
    if (disposed) throw disposedError()
    if (!tokens || typeof tokens.accessToken !== 'string' || !tokens.accessToken) {
      throw new TypeError('setTokens(tokens): "accessToken" must be a non-empty string')
    }
    const next = toSession(tokens, now())
    const written = commit(next, 'local')
    // A login during a refresh wins: the refresh's result is dropped, its waiters get the new token.
    supersede((f) => f.resolve(next.accessToken))
    await written
  }

  const clear = async (): Promise<void> => {
    if (disposed) return
    const written = commit(null, 'local', 'cleared')
    supersede((f) => f.reject(notSignedIn()))
    await written
  }

  const manager: TokenManager = {
    getAccessToken,
    refresh,
    setTokens,
    clear,
    get isRefreshing() {
      return flight !== undefined
    },
    on(event, listener) {
      if (!eventNames.includes(event)) throw new TypeError(`on(): unknown event "${String(event)}"; use one of ${eventNames.join(', ')}`)
      if (typeof listener !== 'function') throw new TypeError('on(): "listener" must be a function')
      let set = listeners.get(event)
      if (!set) listeners.set(event, (set = new Set()))
      set.add(listener)
      return () => void set.delete(listener)
    },
    dispose() {
      if (disposed) return
      disposed = true
      supersede((f) => f.reject(disposedError()))
      link?.close()
      link = undefined
      listeners.clear()
    },
  }

  if (options.crossTab) {
    try {
      link = options.crossTab.connect({
        read: async () => {
          const stored = await readStorage()
          return stored && toTokenSet(stored)
        },
        receive(tokens) {
          if (disposed) return
          if (!tokens) {
            if (!session && !flight) return
            commit(null, 'remote', 'remote')
            supersede((f) => f.reject(new SessionExpiredError()))
            return
          }
          if (session?.accessToken === tokens.accessToken) return
          const next = toSession(tokens, now())
          commit(next, 'remote')
          supersede((f) => f.resolve(next.accessToken))
        },
      })
    } catch (error) {
      emit('error', { error, source: 'cross-tab' })
    }
  }

  return manager
}
