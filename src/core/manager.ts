import { AuthError, RefreshFailedError, SessionExpiredError, isSessionExpired } from './errors.js'
import { isDue, toSession, toTokenSet, type Session } from './expiry.js'
import { abortReason, unrefTimer, withSignal } from './internal/abort.js'
import type { CrossTabLink, TokenManager, TokenManagerEvents, TokenManagerOptions, TokenSet, TokenStorage } from './types.js'

/** One refresh, shared by every caller while it is in flight. */
interface Flight {
  promise: Promise<string>
  resolve(token: string): void
  reject(error: unknown): void
  /** Aborted when the flight is superseded (setTokens, clear, another tab, dispose). */
  controller: AbortController
}

type Events = TokenManagerEvents
type Listener = (payload: never) => void

const eventNames: readonly string[] = ['tokens', 'refresh', 'refreshFailed', 'signedOut', 'error']

const option = (name: string, value: unknown, fallback: number, min = 0, whole = false): number => {
  if (value === undefined) return fallback
  if (typeof value === 'number' && value >= min && value < Infinity && (!whole || Number.isInteger(value))) return value
  throw new TypeError(`"${name}" must be a ${whole ? 'whole ' : ''}number of ${min} or more`)
}

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
  const { refresh: refreshFn, isSessionExpired: isTerminal = isSessionExpired, now = Date.now } = options ?? {}
  for (const [name, fn] of Object.entries({ refresh: refreshFn, isSessionExpired: isTerminal, now })) {
    if (typeof fn !== 'function') throw new TypeError(`"${name}" must be a function`)
  }
  const { storage: given } = options
  const retry: Partial<TokenManagerOptions['retry']> = options.retry ?? {}
  if (typeof retry !== 'object' || !retry) throw new TypeError('"retry" must be an object: { attempts, baseDelayMs }')
  if (given && !['get', 'set', 'clear'].every((m) => typeof given[m as keyof TokenStorage] === 'function')) {
    throw new TypeError('"storage" must have get, set and clear: wrap localStorage in webStorage()')
  }
  const windowMs = option('refreshBeforeExpiryMs', options.refreshBeforeExpiryMs, 30_000)
  const timeoutMs = option('refreshTimeoutMs', options.refreshTimeoutMs, 15_000, 1)
  const attempts = option('retry.attempts', retry.attempts, 2, 0, true)
  const baseDelayMs = option('retry.baseDelayMs', retry.baseDelayMs, 300)

  const listeners = new Map<string, Set<Listener>>()
  let storage: TokenStorage | undefined = given
  let session: Session | null = null
  /** How the last session ended: a 401 for its token means SESSION_EXPIRED, not NOT_SIGNED_IN. */
  let ended: 'expired' | 'cleared' | 'remote' | undefined
  let loaded = false
  let loading: Promise<void> | undefined
  let flight: Flight | undefined
  let disposed = false
  let writes: Promise<void> = Promise.resolve()
  let link: CrossTabLink | undefined
  /** Rejects with DISPOSED when the manager is disposed, so no wait outlives it. */
  let onDispose!: () => void
  const disposal = new Promise<never>((_, reject) => (onDispose = () => reject(authError('DISPOSED'))))
  disposal.catch(() => {})

  const emit = <E extends keyof Events>(event: E, payload: Events[E]): void => {
    for (const listener of [...(listeners.get(event) ?? [])]) {
      try {
        ;(listener as (payload: Events[E]) => void)(payload)
      } catch (error) {
        if (event !== 'error') emit('error', { error, source: 'listener' })
      }
    }
  }

  const authError = (code: 'DISPOSED' | 'NOT_SIGNED_IN') =>
    new AuthError(code, code === 'DISPOSED' ? 'The token manager was disposed' : 'Not signed in: call setTokens() after login')

  const persist = (tokens: TokenSet | null): Promise<void> =>
    // Chained, so an async storage always ends with the newest value.
    (writes = writes.then(async () => {
      try {
        await (tokens ? storage?.set(tokens) : storage?.clear())
      } catch (error) {
        // Quota, private mode: degrade to memory, requests keep working. Clear what
        // is stored, so a reload never brings back a token that was since rotated.
        try {
          await storage?.clear()
        } catch {
          // nothing more to do: the storage is gone
        }
        storage = undefined
        emit('error', { error, source: 'storage' })
      }
    }))

  const read = async (): Promise<Session | null> => {
    try {
      const stored = await storage?.get()
      if (stored == null) return null
      if (typeof stored.accessToken !== 'string' || !stored.accessToken) throw new TypeError('The stored tokens have no accessToken')
      return toSession(stored, now())
    } catch (error) {
      // Unreadable is not unwritable: report, start signed out, keep the storage.
      emit('error', { error, source: 'storage' })
      return null
    }
  }

  const load = (): Promise<void> =>
    loaded
      ? Promise.resolve()
      : (loading ??= Promise.race([
          read().then((stored) => {
            if (!loaded) {
              session = stored
              loaded = true
            }
          }),
          disposal,
        ]))

  /** Replaces the session; `local` changes are persisted and told to other tabs. */
  const commit = (next: Session | null, local: boolean, reason: 'expired' | 'cleared' | 'remote' = 'cleared') => {
    session = next
    ended = next ? undefined : reason
    loaded = true // a login or sign-out before the stored session has loaded wins over it
    const tokens = next && toTokenSet(next)
    if (local) link?.publish(tokens)
    const written = local ? persist(tokens) : undefined
    if (tokens) emit('tokens', tokens)
    else emit('signedOut', { reason })
    return written
  }

  /** Settles the flight in flight early (a login, a sign-out, dispose): its result is never applied. */
  const supersede = (settle: (f: Flight) => void) => {
    const f = flight
    if (!f) return
    flight = undefined
    f.controller.abort()
    settle(f)
  }

  /** One call of the refresh function, bounded by the timeout and by the flight's life. */
  const attempt = async (f: Flight, refreshToken: string | null): Promise<Session> => {
    const controller = new AbortController()
    let reason: unknown
    const stop = (error: unknown) => {
      reason = error
      controller.abort(error)
    }
    const onSuperseded = () => stop(f.controller.signal.reason)
    f.controller.signal.addEventListener('abort', onSuperseded)
    const cancel = unrefTimer(() => stop(new RefreshFailedError('REFRESH_TIMEOUT', `The refresh did not answer within ${timeoutMs} ms`)), timeoutMs)
    try {
      const tokens = await Promise.race([
        refreshFn({ refreshToken, signal: controller.signal }),
        new Promise<never>((_, reject) => controller.signal.addEventListener('abort', () => reject(reason))),
      ])
      if (!tokens || typeof tokens.accessToken !== 'string' || !tokens.accessToken) {
        throw new RefreshFailedError('REFRESH_FAILED', 'The refresh function resolved without an accessToken')
      }
      // A server that does not rotate sends no refresh token: keep the one we have.
      return toSession({ ...tokens, refreshToken: tokens.refreshToken === undefined ? refreshToken : tokens.refreshToken }, now())
    } finally {
      cancel()
      f.controller.signal.removeEventListener('abort', onSuperseded)
    }
  }

  const run = async (f: Flight) => {
    const from = session
    for (let tries = 0; ; tries++) {
      let failure: unknown
      try {
        let adopted = false
        const next = link
          ? await link.exclusive(async () => {
              // Another tab may have rotated while this one waited for the lock: adopt its tokens.
              const shared = await read()
              if (flight !== f) return null
              if (shared && shared.accessToken !== from?.accessToken) {
                adopted = true
                return shared
              }
              const fresh = await attempt(f, (shared ?? from)?.refreshToken ?? null)
              // Hand over through storage before the lock is released: the next tab re-reads it.
              if (flight === f) await persist(toTokenSet(fresh))
              return fresh
            })
          : await attempt(f, from?.refreshToken ?? null)
        if (!next || flight !== f) return
        flight = undefined
        void commit(next, !link) // waiters need not wait for a slow storage write
        if (link && !adopted) link.publish(toTokenSet(next))
        f.resolve(next.accessToken)
        return
      } catch (error) {
        failure = error
      }
      if (flight !== f) return
      let terminal = failure instanceof SessionExpiredError
      try {
        terminal ||= !(failure instanceof RefreshFailedError) && isTerminal(failure)
      } catch {
        // a throwing classifier must not leave callers pending: transient
      }
      if (!terminal && tries < attempts) {
        await new Promise<void>((resolve) => {
          const cancel = unrefTimer(resolve, baseDelayMs * 2 ** tries * (0.5 + Math.random() / 2))
          f.controller.signal.addEventListener('abort', () => resolve(cancel()))
        })
        if (flight !== f) return
        continue
      }
      flight = undefined
      const error = terminal
        ? new SessionExpiredError({ cause: failure })
        : failure instanceof RefreshFailedError
          ? failure
          : new RefreshFailedError('REFRESH_FAILED', 'The refresh failed; the session is kept for a later try', { cause: failure })
      emit('refreshFailed', { error })
      if (terminal) void commit(null, true, 'expired')
      f.reject(error)
      return
    }
  }

  /** Joins the flight in flight, or starts one. */
  const fly = (): Promise<string> => {
    if (flight) return flight.promise
    const f = { controller: new AbortController() } as Flight
    f.promise = new Promise<string>((resolve, reject) => {
      f.resolve = resolve
      f.reject = reject
    })
    f.promise.catch(() => {}) // rejections reach callers; a flight nobody awaits is not unhandled
    flight = f
    emit('refresh', undefined)
    void run(f)
    return f.promise
  }

  /** Joins the flight for one caller: an aborted signal never starts a refresh. */
  const join = (signal: AbortSignal | undefined) => (signal?.aborted ? Promise.reject(abortReason(signal)) : withSignal(fly(), signal))

  const manager: TokenManager = {
    async getAccessToken(opts) {
      if (disposed) throw authError('DISPOSED')
      if (!loaded) await withSignal(load(), opts?.signal)
      const current = session
      if (!current) return null
      if (!flight && !isDue(current, now(), windowMs)) return current.accessToken
      try {
        return await join(opts?.signal)
      } catch (error) {
        // A proactive refresh that fails for now while the token is still valid keeps using it.
        if (error instanceof RefreshFailedError && session === current && now() < current.expiresAt!) return current.accessToken
        throw error
      }
    },

    async refresh(opts = {}) {
      if (disposed) throw authError('DISPOSED')
      await withSignal(load(), opts.signal)
      if (!flight && opts.staleToken !== undefined) {
        // Stale 401: someone refreshed meanwhile, so the current token is already newer.
        if (session && session.accessToken !== opts.staleToken) return session.accessToken
        if (!session) throw ended === 'cleared' || !ended ? authError('NOT_SIGNED_IN') : new SessionExpiredError()
      }
      return join(opts.signal)
    },

    async setTokens(tokens) {
      if (disposed) throw authError('DISPOSED')
      if (typeof tokens?.accessToken !== 'string' || !tokens.accessToken) {
        throw new TypeError('setTokens(tokens): "accessToken" must be a non-empty string')
      }
      const next = toSession(tokens, now())
      const written = commit(next, true)
      // A login during a refresh wins: the refresh's result is dropped, its waiters get the new token.
      supersede((f) => f.resolve(next.accessToken))
      await written
    },

    async clear() {
      if (disposed) return
      const written = commit(null, true)
      supersede((f) => f.reject(authError('NOT_SIGNED_IN')))
      await written
    },

    get isRefreshing() {
      return flight !== undefined
    },

    on(event, listener) {
      if (!eventNames.includes(event) || typeof listener !== 'function') {
        throw new TypeError(`on(event, listener): "event" must be one of ${eventNames.join(', ')} and "listener" a function`)
      }
      let set = listeners.get(event)
      if (!set) listeners.set(event, (set = new Set()))
      set.add(listener)
      return () => void set.delete(listener)
    },

    dispose() {
      if (disposed) return
      disposed = true
      onDispose()
      supersede((f) => f.reject(authError('DISPOSED')))
      link?.close()
      listeners.clear()
    },
  }

  try {
    link = options.crossTab?.connect({
      read: async () => {
        const stored = await read()
        return stored && toTokenSet(stored)
      },
      receive(tokens) {
        // Another tab signed in, refreshed or signed out: adopt, and settle a flight that waits.
        if (disposed || session?.accessToken === tokens?.accessToken) return
        const next = tokens && toSession(tokens, now())
        commit(next, false, 'remote')
        supersede((f) => (next ? f.resolve(next.accessToken) : f.reject(new SessionExpiredError())))
      },
    })
  } catch (error) {
    // Reported on the next tick, so listeners added right after creation hear it.
    void Promise.resolve().then(() => emit('error', { error, source: 'cross-tab' }))
  }

  return manager
}
