/**
 * The token manager: one session at a time, one refresh at a time.
 *
 * Where each behaviour of DESIGN.md lives:
 * 1  single flight ............ single-flight.ts; `startFlight`, `refreshed` here
 * 2  stale 401, per session ... `tokenRejected` (session id + generation, session.ts)
 * 3  retry once ............... the adapters (src/adapters)
 * 4  proactive, non-blocking .. expiry.ts `urgencyOf`; `peekToken` starts it in the background
 * 5  clock skew, odd expiries . expiry.ts `readExpiry`; `landingOf` (no progress → no loop)
 * 6  failure .................. `run` → `fail`; retry.ts (backoff); storage bounds in persistence.ts
 * 7  cancellation ............. internal/waiters.ts (every caller's wait)
 * 10 storage faults ........... persistence.ts; `load`, `settled` (a failed start-up read is tried
 *                               again), `lateAnswer` (no rotated token stranded by dispose())
 * 11 Node friendliness ........ internal/timers.ts (unref'd timers), internal/waiters.ts (kept alive while waited on)
 * 14 no multiplied refreshes .. retry.ts `createCooldown`; `tokenRejected(null)` after a terminal failure
 *
 * States, by name: `phase` (loading → ready → disposed); `session` (signed in:
 * id + generation) or `ended` (signed out, and why); `flights.current` (the
 * refresh in flight). Every change of session goes through `setSession` or
 * `endSession`. Listeners run synchronously and may change anything, so the
 * code re-reads the state after every emit instead of trusting what it saw before.
 */
import { AuthError, RefreshFailedError, SessionExpiredError } from './errors.js'
import { createEmitter } from './events.js'
import { urgencyOf } from './expiry.js'
import { abortReason } from './internal/abort.js'
import { delay, unrefTimer } from './internal/timers.js'
import { createWaiters } from './internal/waiters.js'
import { readOptions } from './options.js'
import { createPersistence } from './persistence.js'
import { backoffDelay, createCooldown } from './retry.js'
import { hasAccessToken, newSessionId, storedSessionId, toSession, toTokenSet, type Session, type SignedOutReason } from './session.js'
import { createSingleFlight, type Flight } from './single-flight.js'
import type { AccessToken, CrossTabLink, ManagerState, SignOutReason, TokenManager, TokenManagerOptions, TokenSet, TokenStamp } from './types.js'

/** What a refresh settled on: the session it made, whether another tab made it, and an expiry to report. */
interface Landing {
  session: Session
  adopted?: boolean
  problem?: string
}

const READ_RETRY_MS = 1_000

/**
 * Whether `tokens` (read from storage, or from another tab) are an older state than
 * `session`: what a lagging storage view may still show. The manager writes
 * `expiresAt` whenever it knows the expiry, so a set without one beside a session
 * with one was written before it (or by someone else); without any expiry there is
 * nothing to compare, and it counts as not older.
 */
const isOlder = (tokens: TokenSet, session: Session | null | undefined) =>
  session?.expiresAt !== undefined && (tokens.expiresAt === undefined || tokens.expiresAt < session.expiresAt)

const disposedError = () => new AuthError('DISPOSED', 'The manager was disposed')
const notSignedIn = (why = 'call setTokens() after login') => new AuthError('NOT_SIGNED_IN', `Not signed in: ${why}`)

/**
 * Creates a token manager: it hands out a valid access token, refreshes before
 * expiry, and runs at most one refresh at a time for all callers.
 *
 * @example
 * const manager = createTokenManager({
 *   refresh: refreshTokenGrant({ url: '/auth/token' }),
 *   storage: webStorage(localStorage),
 *   crossTab: crossTab(),
 * })
 * await manager.setTokens({ accessToken, refreshToken }) // after login
 */
export function createTokenManager(options: TokenManagerOptions): TokenManager {
  const settings = readOptions(options)
  const { refresh: refreshFn, now, windowMs, timeoutMs } = settings

  const { emit, on, clear: removeListeners } = createEmitter()
  const waiters = createWaiters()
  const flights = createSingleFlight()
  const cooldown = createCooldown(settings.cooldownMs, now)
  const persistence = createPersistence(settings.storage, settings.storageTimeoutMs, (error) => emit('error', { error, source: 'storage' }))
  let link: CrossTabLink | undefined

  // ---- state ---------------------------------------------------------------
  let phase: 'idle' | 'loading' | 'ready' | 'disposed' = 'idle'
  let session: Session | null = null
  /** Why there is no session, and which one ended: a late 401 of an expired session is a SessionExpiredError. */
  let ended: { reason: SignedOutReason; id?: string; error?: AuthError } = { reason: 'none' }
  /** The last transient failure of the session, shown in the state until a refresh succeeds. */
  let lastFailure: RefreshFailedError | undefined
  /** A session whose token the server refused (a 401): callers wait for its refresh, whatever the clock says. */
  let refused: Session | undefined
  /** The start-up read failed (a locked Keychain): the next call after `retryAt` reads again. */
  let unread: { failures: number; retryAt: number } | undefined
  /** Resolves when the start-up read (or a re-read) is over, or a login or sign-out made it moot. */
  let loading: { done: Promise<void>; release(): void } | undefined
  let state: ManagerState | undefined

  const isDisposed = () => phase === 'disposed'

  /** Leaves `loading` (or `idle`): callers waiting for the read go on. */
  const becomeReady = () => {
    phase = 'ready'
    loading?.release()
    loading = undefined
  }

  /** After every change: a new state object for `getState()` (React compares by identity), and its event. */
  const changed = () => {
    state = undefined
    emit('state', manager.getState())
  }

  const reportExpiry = (problem: string | undefined) => {
    if (problem) emit('error', { error: new RangeError(problem), source: 'expiry' })
  }

  // ---- session changes -------------------------------------------------------

  /** Makes `next` the session. A refresh of another session (or of none) no longer applies: it is superseded. */
  function setSession(next: Session, how: { persist?: boolean; publish?: boolean; quiet?: boolean }): Promise<void> {
    if (next.id !== session?.id) {
      cooldown.reset()
      lastFailure = undefined
    }
    session = next
    unread = undefined
    becomeReady() // a login before the stored session loaded wins over it
    const f = flights.current
    if (f && f.from?.id !== next.id) supersede(f)
    const tokens = toTokenSet(next)
    if (how.publish) link?.publish(tokens)
    const written = how.persist ? persistence.write(tokens) : undefined
    if (!how.quiet) emit('tokens', tokens)
    changed()
    return written ?? Promise.resolve()
  }

  /** Ends the session (or confirms there is none); `signedOut` only on a real transition. */
  function endSession(reason: SignOutReason, local: boolean, error?: AuthError): Promise<void> {
    const previous = session
    session = null
    unread = undefined
    becomeReady()
    if (previous || reason === 'cleared') ended = { reason, id: previous?.id, error }
    cooldown.reset()
    lastFailure = undefined
    const f = flights.current
    if (f) supersede(f)
    if (local) link?.publish(null)
    const written = local ? persistence.write(null) : undefined
    if (previous) emit('signedOut', { reason })
    changed()
    return written ?? Promise.resolve()
  }

  // ---- loading ---------------------------------------------------------------

  /**
   * The start-up read (DESIGN 10), on first use: creating a manager touches no
   * storage (SSR-safe), and a synchronous storage is read at once, so the first
   * request takes the fast path. A failed read is tried again by a call after
   * `retryAt` (1 s, doubling to 30 s); meanwhile the manager is signed out.
   */
  function load() {
    const done = (stored: TokenSet | null) => {
      if (phase !== 'loading') return // a login or sign-out came first and wins
      unread = undefined
      if (stored) {
        void setSession(toSession(stored, storedSessionId(stored), now(), 'stored').session, { quiet: true })
      } else {
        becomeReady()
        changed()
      }
    }
    const failed = (error: unknown) => {
      if (phase !== 'loading') return
      const failures = (unread?.failures ?? 0) + 1
      unread = { failures, retryAt: now() + Math.min(READ_RETRY_MS * 2 ** (failures - 1), 30_000) }
      becomeReady()
      emit('error', { error, source: 'storage' })
      changed()
    }
    phase = 'loading'
    try {
      const stored = persistence.read()
      if (!(stored && 'then' in stored)) return done(stored)
      let release!: () => void
      loading = { done: new Promise<void>((resolve) => (release = resolve)), release }
      stored.then(done, failed)
    } catch (error) {
      failed(error)
    }
  }

  /** Starts the start-up read, or a re-read that is due; whether the answer must wait for it. */
  function reading(): boolean {
    if (phase === 'idle' || (phase === 'ready' && !session && unread && now() >= unread.retryAt)) load()
    return loading !== undefined
  }

  /**
   * Waits until the manager can answer. Nothing to wait for: no promise, so a
   * refresh a caller needs starts in the same tick as the call.
   */
  function settled(signal: AbortSignal | undefined): Promise<void> | undefined {
    if (isDisposed()) return Promise.reject(disposedError())
    if (reading()) return waiters.wait(loading!.done, signal)
  }

  // ---- the refresh -----------------------------------------------------------

  /** Whether a refresh failure ends the session; a throwing classifier must not leave callers pending. */
  const isFatal = (failure: unknown) => {
    try {
      return failure instanceof SessionExpiredError || (!(failure instanceof RefreshFailedError) && settings.isTerminal(failure))
    } catch {
      return false
    }
  }

  /** The session a refresh result makes: same login, next generation; the old refresh token kept if none came back. */
  function landingOf(from: Session | null, tokens: TokenSet): Landing {
    const refreshToken = tokens.refreshToken === undefined ? (from?.refreshToken ?? null) : tokens.refreshToken
    const { session: next, problem } = toSession({ ...tokens, refreshToken }, from?.id ?? newSessionId(), now(), 'refresh')
    // No progress (the same expiry again): a proactive refresh would follow every request. Refresh on 401 only.
    if (next.expiresAt !== undefined && from?.expiresAt !== undefined && next.expiresAt <= from.expiresAt) {
      return { session: { ...next, proactive: false }, problem: 'Ignored: the new token expires no later than the old one' }
    }
    return { session: next, problem }
  }

  function startFlight(from: Session | null): Flight {
    const f = flights.start(from)
    changed()
    emit('refresh', undefined)
    // A listener may have signed out, logged in or disposed: then the refresh function never runs.
    if (flights.current === f) void run(f)
    return f
  }

  /** Ends a flight that a login, a sign-out or another tab overtook: its attempt is aborted, its result never applied. */
  function supersede(f: Flight) {
    f.attempt?.abort()
    flights.end(f, 'superseded')
  }

  /** New tokens for the flight's session: waiters resume and read them. */
  function land(f: Flight | undefined, landing: Landing) {
    if (f && !flights.end(f, 'done')) return
    cooldown.reset()
    lastFailure = undefined
    // With a link, the tokens were written inside the lock, or came from another tab.
    void setSession(landing.session, { persist: !link || !f, publish: !landing.adopted })
    reportExpiry(landing.problem)
  }

  function fail(f: Flight, failure: unknown) {
    const terminal = isFatal(failure)
    const error = terminal
      ? new SessionExpiredError({ cause: failure })
      : failure instanceof RefreshFailedError
        ? failure
        : new RefreshFailedError('REFRESH_FAILED', 'The refresh failed; the session is kept', { cause: failure })
    if (!flights.end(f, 'failed', error)) return
    if (!terminal) {
      cooldown.failed(f.from?.id ?? null, error as RefreshFailedError)
      lastFailure = error as RefreshFailedError
    }
    emit('refreshFailed', { error })
    if (terminal && session && session.id === f.from?.id) void endSession('expired', true, error)
    else changed()
  }

  /** One call of the refresh function, bounded by the timeout. Settles with its own errors, never via `signal.reason`. */
  function attempt(f: Flight): Promise<TokenSet> {
    const controller = new AbortController()
    f.attempt = controller
    return new Promise<TokenSet>((resolve, reject) => {
      let late = false
      const cancel = unrefTimer(() => {
        late = true
        const error = new RefreshFailedError('REFRESH_TIMEOUT', `The refresh did not answer within ${timeoutMs} ms`)
        controller.abort(error)
        reject(error)
      }, timeoutMs)
      // Called now, not a tick later (a login in between must not see it start); a synchronous throw rejects.
      new Promise<TokenSet>((call) => call(refreshFn({ refreshToken: f.from?.refreshToken ?? null, signal: controller.signal })))
        .then((tokens) => {
          if (!hasAccessToken(tokens)) throw new RefreshFailedError('REFRESH_FAILED', 'The refresh resolved without an accessToken')
          return tokens
        })
        .then(
          (tokens) => {
            cancel()
            if (late || f.endedBy === 'disposed') lateAnswer(f, controller, tokens)
            resolve(tokens)
          },
          (error: unknown) => {
            cancel()
            // A late invalid_grant ends the session, as an answer in time would have.
            if (late && !isDisposed() && session && session === f.from && isFatal(error)) {
              if (flights.current === f) fail(f, error)
              else void endSession('expired', true, new SessionExpiredError({ cause: error }))
            }
            reject(error)
          },
        )
    })
  }

  /**
   * An answer after its attempt timed out still counts while nothing newer
   * happened: the server has rotated, and presenting the old refresh token again
   * would be a reuse. After `dispose()` it goes to storage for the next manager,
   * over the tokens it replaced only (DESIGN 10: no rotated token stranded).
   */
  function lateAnswer(f: Flight, controller: AbortController, tokens: TokenSet) {
    const from = f.from
    if (f.endedBy === 'disposed') {
      if (!from?.refreshToken) return
      void Promise.resolve()
        .then(persistence.read)
        .then((stored) => {
          if (stored?.refreshToken === from.refreshToken) return persistence.write(toTokenSet(landingOf(from, tokens).session))
        })
        .catch(() => {})
    } else if (!isDisposed() && session === from) {
      if (f.attempt !== controller) f.attempt?.abort() // its retry, presenting the old token, would be a reuse
      land(flights.current === f ? f : undefined, landingOf(from, tokens))
    }
  }

  /** Under the cross-tab lock: adopt what another tab wrote meanwhile, else refresh and write before the lock is released. */
  async function exclusiveRefresh(f: Flight, exclusive: CrossTabLink['exclusive']): Promise<Landing | null> {
    let landing: Landing | null = null
    await exclusive(async () => {
      const shared = await Promise.resolve().then(persistence.read).catch(() => null)
      const from = f.from
      if (flights.current !== f) return null
      // Never an older state than ours: a lagging storage view may still show one.
      if (shared && shared.accessToken !== from?.accessToken && !isOlder(shared, from)) {
        landing = { session: toSession(shared, shared.sessionId ?? from?.id ?? newSessionId(), now(), 'stored').session, adopted: true }
        return shared
      }
      landing = landingOf(from, await attempt(f))
      const tokens = toTokenSet(landing.session)
      // Hand over through storage before the lock is released: the next tab re-reads it.
      if (flights.current === f) await persistence.write(tokens)
      return tokens
    })
    return landing
  }

  /** Runs a flight: attempts, with backoff between transient failures, until it lands, fails or is overtaken. */
  async function run(f: Flight) {
    for (let retry = 0; ; retry++) {
      let failure: unknown
      try {
        const landing = link ? await exclusiveRefresh(f, link.exclusive) : landingOf(f.from, await attempt(f))
        if (landing && flights.current === f) land(f, landing)
        return
      } catch (error) {
        failure = error
      }
      if (flights.current !== f) return
      if (retry >= settings.attempts || isFatal(failure)) return fail(f, failure)
      const backoff = delay(backoffDelay(retry, settings.baseDelayMs))
      f.onEnd(backoff.stop) // an overtaken or disposed flight leaves no timer behind
      await backoff.done
      if (flights.current !== f) return
    }
  }

  /**
   * Waits for a refresh of `from`: joins the flight in flight or starts one;
   * returns at once if the session changed meanwhile (the caller re-reads it);
   * throws the refresh's error. Within the cooldown of a failure, rejects at
   * once (DESIGN 14), unless `explicit` (`manager.refresh()`).
   */
  async function refreshed(from: Session | null, signal: AbortSignal | undefined, explicit?: boolean): Promise<void> {
    if (signal?.aborted) throw abortReason(signal) // an aborted caller never starts a refresh
    if (session !== from) return
    let f = flights.current
    if (!f) {
      const cooling = !explicit && cooldown.active(from?.id ?? null)
      if (cooling) throw cooling
      f = startFlight(from)
    }
    const error = await waiters.wait(f.done, signal)
    if (error) throw error
  }

  /**
   * After a wait for the refresh of `from`: the session's token, or why there is
   * none. A caller never gets a token of another session than the one it started
   * under (DESIGN 2); `null` when it ended by a sign-out or another login.
   */
  function outcome(from: string | undefined): AccessToken | AuthError | null {
    if (isDisposed()) return disposedError()
    if (session && (!from || session.id === from)) return session.access
    if (!session && ended.reason === 'expired' && ended.error && (!from || ended.id === from)) return ended.error
    return null
  }

  // ---- the public surface ------------------------------------------------------

  function peekToken(): AccessToken | null | undefined {
    if (isDisposed() || reading()) return undefined
    const s = session
    if (!s) return null
    const urgency = urgencyOf(s, now(), windowMs, s.proactive)
    if (urgency === 'now' || s === refused) return undefined
    // DESIGN 4: inside the window, one refresh in the background; the request does not wait for it.
    if (urgency === 'soon' && !flights.current && !cooldown.active(s.id)) startFlight(s)
    // A listener of the refresh may have changed the session: then ask again, the slow way.
    return session === s ? s.access : undefined
  }

  async function getToken(opts?: { signal?: AbortSignal }): Promise<AccessToken | null> {
    const signal = opts?.signal
    const waiting = settled(signal)
    if (waiting) await waiting
    const token = peekToken()
    if (token !== undefined) return token
    const s = session
    if (!s) return null
    try {
      await refreshed(s, signal)
    } catch (error) {
      // A refresh that failed for now while the token is still valid (inside the margin, never refused): use it.
      if (error instanceof RefreshFailedError && session === s && s !== refused && now() < s.expiresAt!) return s.access
      throw error
    }
    const result = outcome(s.id)
    if (result instanceof AuthError) throw result
    if (!result) throw notSignedIn('the session ended while waiting for its refresh')
    return result
  }

  async function tokenRejected(sent: TokenStamp | null, opts?: { signal?: AbortSignal }): Promise<AccessToken | null> {
    const signal = opts?.signal
    const waiting = settled(signal)
    if (waiting) await waiting
    const s = session
    if (!sent || !s || s.id !== sent.session) {
      // Sent without a token, or under a session that has ended: never retried under another one.
      // After a terminal failure (of that session) it is the typed error, not a bare 401 (DESIGN 14).
      emit('unauthorized', { outcome: 'handed-back' })
      const result = outcome(sent?.session)
      if (result instanceof AuthError) throw result
      return null
    }
    if (s.generation > sent.generation) {
      emit('unauthorized', { outcome: 'retry' })
    } else {
      refused = s
      emit('unauthorized', { outcome: 'refresh' })
      await refreshed(s, signal)
    }
    const result = outcome(s.id)
    if (result instanceof AuthError) throw result
    return result
  }

  const manager: TokenManager = {
    async getAccessToken(opts) {
      return (await getToken(opts))?.value ?? null
    },
    getToken,
    peekToken,
    tokenRejected,

    async refresh(opts = {}) {
      const waiting = settled(opts.signal)
      if (waiting) await waiting
      const s = session
      const { staleToken } = opts
      if (staleToken !== undefined) {
        // The older stale-401 rule, by token string: prefer tokenRejected().
        if (!s) throw ended.reason === 'expired' && ended.error ? ended.error : notSignedIn()
        if (!flights.current && s.accessToken !== staleToken) return s.accessToken
        refused = s
      }
      await refreshed(s, opts.signal, staleToken === undefined)
      const result = outcome(s?.id)
      if (result instanceof AuthError) throw result
      if (!result) throw notSignedIn('the session ended while waiting for its refresh')
      return result.value
    },

    async setTokens(tokens) {
      if (isDisposed()) throw disposedError()
      if (!hasAccessToken(tokens)) throw new TypeError('setTokens(): "accessToken" must be a non-empty string')
      // The current session's id continues it (another tab's tokens); anything else is a new login.
      const { session: next, problem } = toSession(tokens, session && tokens.sessionId === session.id ? session.id : newSessionId(), now(), 'login')
      const written = setSession(next, { persist: true, publish: true })
      reportExpiry(problem)
      await written
    },

    async clear() {
      if (!isDisposed()) await endSession('cleared', true)
    },

    get isRefreshing() {
      return flights.current !== undefined
    },

    sender: options.sender,

    getState() {
      if (!isDisposed()) reading()
      if (state) return state
      const refreshing = flights.current !== undefined
      if (phase === 'disposed') return (state = { status: 'disposed', refreshing: false })
      if (phase !== 'ready') return (state = { status: 'loading', refreshing })
      if (session) return (state = { status: 'signedIn', refreshing, session: session.id, expiresAt: session.expiresAt, error: lastFailure })
      return (state = { status: 'signedOut', refreshing, reason: ended.reason, error: ended.error })
    },

    on,

    dispose() {
      if (isDisposed()) return
      phase = 'disposed'
      const error = disposedError()
      // The run stops at its next step; an attempt already sent goes on, and its answer goes to storage.
      const f = flights.current
      if (f) flights.end(f, 'disposed', error)
      waiters.rejectAll(error)
      link?.close()
      changed()
      removeListeners()
    },
  }

  try {
    link = settings.crossTab?.connect(
      {
        read: () => Promise.resolve().then(persistence.read).catch(() => null),
        receive(tokens) {
          // Another tab signed in, refreshed or signed out.
          if (isDisposed()) return
          if (!tokens) {
            if (session) void endSession('remote', false)
            return
          }
          if (!hasAccessToken(tokens)) return
          const id = tokens.sessionId ?? session?.id ?? newSessionId()
          // The same session: an echo, or older tokens from a lagging view; never go back to them.
          if (session?.id === id && (session.accessToken === tokens.accessToken || isOlder(tokens, session))) return
          const landing = { session: toSession(tokens, id, now(), 'stored').session, adopted: true }
          const f = flights.current
          // A refresh of this session in flight here: the other tab did it; settle ours with its tokens.
          if (f?.from?.id === id) {
            f.attempt?.abort()
            land(f, landing)
          } else void setSession(landing.session, {})
        },
      },
      manager,
    )
  } catch (error) {
    // Reported on the next tick, so listeners added right after creation hear it.
    void Promise.resolve().then(() => emit('error', { error, source: 'cross-tab' }))
  }

  options.sender?.connect?.(manager)
  return manager
}
