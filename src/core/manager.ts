import { AuthError, RefreshFailedError, SessionExpiredError, isSessionExpired } from './errors.js'
import { isDue, toSession, toTokenSet, type Session } from './expiry.js'
import { abortReason, unrefTimer, withSignal } from './internal/abort.js'
import type { CrossTabLink, SignOutReason, TokenManager, TokenManagerEvents, TokenManagerOptions, TokenSet, TokenStorage } from './types.js'

/** One refresh, shared by every caller while it is in flight; aborted when superseded (setTokens, clear, another tab, dispose). */
interface Flight extends AbortController {
  promise: Promise<string>
  resolve(token: string): void
  reject(error: unknown): void
}

type Events = TokenManagerEvents
type Listener = (payload: never) => void

const eventNames: readonly string[] = ['tokens', 'refresh', 'refreshFailed', 'signedOut', 'error']

const noToken = (tokens: TokenSet | null | undefined) => typeof tokens?.accessToken != 'string' || !tokens.accessToken

const option = (name: string, value: number | undefined, fallback: number, min = 0): number => {
  if (value === undefined) return fallback
  if (Number.isInteger(value) && value >= min) return value
  throw new TypeError(`"${name}" must be a whole number of ${min} or more`)
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
    if (typeof fn != 'function') throw new TypeError(`"${name}" must be a function`)
  }
  const { storage: given, retry = {} } = options as { storage?: TokenStorage; retry?: Partial<TokenManagerOptions['retry']> }
  const windowMs = option('refreshBeforeExpiryMs', options.refreshBeforeExpiryMs, 30_000)
  const timeoutMs = option('refreshTimeoutMs', options.refreshTimeoutMs, 15_000, 1)
  const attempts = option('retry.attempts', retry.attempts, 2)
  const baseDelayMs = option('retry.baseDelayMs', retry.baseDelayMs, 300)

  let listeners: [string, Listener][] = []
  let storage: TokenStorage | undefined = given
  let session: Session | null = null
  /** The last session ended without clear(): a 401 for its token means SESSION_EXPIRED, not NOT_SIGNED_IN. */
  let expired = false
  let loaded = false
  let loading: Promise<void> | undefined
  let flight: Flight | undefined
  let disposed = false
  let writes: Promise<void> = Promise.resolve()
  let link: CrossTabLink | undefined
  /** Rejects with DISPOSED when the manager is disposed, so no wait outlives it. */
  /** Aborted by dispose(), so no wait outlives the manager. */
  const life = new AbortController()

  const emit = <E extends keyof Events>(event: E, payload: Events[E]): void => {
    for (const [name, listener] of listeners) {
      if (name !== event) continue
      try {
        ;(listener as (payload: Events[E]) => void)(payload)
      } catch (error) {
        if (event !== 'error') emit('error', { error, source: 'listener' })
      }
    }
  }

  const authError = (code: 'DISPOSED' | 'NOT_SIGNED_IN') =>
    new AuthError(code, code === 'DISPOSED' ? 'The manager was disposed' : 'Not signed in: call setTokens()')

  const signedOutError = () => (expired ? new SessionExpiredError() : authError('NOT_SIGNED_IN'))

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
      if (noToken(stored)) throw new TypeError('Stored tokens have no accessToken')
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
      : (loading ??= withSignal(
          read().then((stored) => {
            if (!loaded) {
              session = stored
              loaded = true
            }
          }),
          life.signal,
        ))

  /**
   * Replaces the session; `local` changes are persisted and told to other tabs.
   * A refresh in flight is settled with the outcome and its own result never applied:
   * a login during a refresh wins, a sign-out is not undone when the refresh resolves.
   */
  const adopt = (next: Session | null, local: boolean, reason: SignOutReason = 'cleared') => {
    session = next
    expired = !next && reason != 'cleared'
    loaded = true // a login or sign-out before the stored session has loaded wins over it
    const tokens = next && toTokenSet(next)
    if (local) link?.publish(tokens)
    const written = local ? persist(tokens) : undefined
    if (tokens) emit('tokens', tokens)
    else emit('signedOut', { reason })
    const f = flight
    if (f) {
      flight = undefined
      f.abort()
      if (next) f.resolve(next.accessToken)
      else f.reject(signedOutError())
    }
    return written
  }

  /** Whether a refresh failure ends the session; a throwing classifier must not leave callers pending. */
  const isFatal = (failure: unknown) => {
    try {
      return failure instanceof SessionExpiredError || (!(failure instanceof RefreshFailedError) && isTerminal(failure))
    } catch {
      return false
    }
  }

  /** One call of the refresh function, bounded by the timeout and by the flight's life. */
  const attempt = async (f: Flight, refreshToken: string | null): Promise<Session> => {
    const controller = new AbortController()
    const before = session
    const onSuperseded = () => controller.abort(f.signal.reason)
    f.signal.addEventListener('abort', onSuperseded)
    const cancel = unrefTimer(() => controller.abort(new RefreshFailedError('REFRESH_TIMEOUT', `Refresh timed out after ${timeoutMs} ms`)), timeoutMs)
    // Called now, not a tick later (a login in between must not see it start); a throw rejects.
    const answer = new Promise<TokenSet>((resolve) => resolve(refreshFn({ refreshToken, signal: controller.signal }))).then((tokens) => {
      if (noToken(tokens)) throw new RefreshFailedError('REFRESH_FAILED', 'Refresh gave no accessToken')
      // A server that does not rotate sends no refresh token: keep the one we have.
      return toSession({ ...tokens, refreshToken: tokens.refreshToken === undefined ? refreshToken : tokens.refreshToken }, now())
    })
    // An answer after the timeout still counts while nothing newer happened: the server has
    // rotated (presenting the old refresh token again would be a reuse) or ended the session.
    const late = (next: Session | null) => void (controller.signal.aborted && session === before && !disposed && adopt(next, true, 'expired'))
    answer.then(late, (error) => isFatal(error) && late(null))
    try {
      return await withSignal(answer, controller.signal)
    } finally {
      cancel()
      f.signal.removeEventListener('abort', onSuperseded)
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
              // (Never an older session than ours: a lagging storage view may still show one.)
              if (shared && shared.accessToken !== from?.accessToken && !((shared.expiresAt as number) < (from?.expiresAt as number))) {
                adopted = true
                return shared
              }
              const fresh = await attempt(f, from?.refreshToken ?? null)
              // Hand over through storage before the lock is released: the next tab re-reads it.
              if (flight === f) await persist(toTokenSet(fresh))
              return fresh
            })
          : await attempt(f, from?.refreshToken ?? null)
        if (!next || flight !== f) return
        flight = undefined
        void adopt(next, !link) // waiters need not wait for a slow storage write
        if (link && !adopted) link.publish(toTokenSet(next))
        f.resolve(next.accessToken)
        return
      } catch (error) {
        failure = error
      }
      if (flight !== f) return
      const terminal = isFatal(failure)
      if (!terminal && tries < attempts) {
        await new Promise<void>((resolve) => {
          const cancel = unrefTimer(resolve, baseDelayMs * 2 ** tries * (0.5 + Math.random() / 2))
          f.signal.addEventListener('abort', () => resolve(cancel()))
        })
        if (flight !== f) return
        continue
      }
      flight = undefined
      const error = terminal
        ? new SessionExpiredError({ cause: failure })
        : failure instanceof RefreshFailedError
          ? failure
          : new RefreshFailedError('REFRESH_FAILED', 'Refresh failed; session kept', { cause: failure })
      emit('refreshFailed', { error })
      if (terminal) void adopt(null, true, 'expired')
      f.reject(error)
      return
    }
  }

  /** Joins the flight in flight, or starts one. */
  const fly = (): Promise<string> => {
    if (flight) return flight.promise
    const f = new AbortController() as Flight
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
        if (!session) throw signedOutError()
      }
      return join(opts.signal)
    },

    async setTokens(tokens) {
      if (disposed) throw authError('DISPOSED')
      if (noToken(tokens)) throw new TypeError('setTokens(): "accessToken" must be a non-empty string')
      await adopt(toSession(tokens, now()), true)
    },

    async clear() {
      if (!disposed) await adopt(null, true)
    },

    get isRefreshing() {
      return flight !== undefined
    },

    on(event, listener) {
      if (!eventNames.includes(event) || typeof listener != 'function') {
        throw new TypeError(`on(): "event" must be one of ${eventNames}, "listener" a function`)
      }
      const entry: [string, Listener] = [event, listener]
      listeners = [...listeners, entry] // copy on write: emitting never sees a list change under it
      return () => void (listeners = listeners.filter((e) => e !== entry))
    },

    dispose() {
      if (disposed) return
      disposed = true
      life.abort(authError('DISPOSED'))
      flight?.abort()
      flight?.reject(authError('DISPOSED'))
      flight = undefined
      link?.close()
      listeners = []
    },
  }

  try {
    link = options.crossTab?.connect(
      {
        read,
        receive(tokens) {
          // Another tab signed in, refreshed or signed out: adopt, and settle a flight that waits.
          if (!disposed && session?.accessToken !== tokens?.accessToken) adopt(tokens && toSession(tokens, now()), false, 'remote')
        },
      },
      manager,
    )
  } catch (error) {
    // Reported on the next tick, so listeners added right after creation hear it.
    void Promise.resolve().then(() => emit('error', { error, source: 'cross-tab' }))
  }

  return manager
}
