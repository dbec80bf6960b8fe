/**
 * The token manager: one session at a time, one refresh at a time.
 *
 * Where each behaviour of DESIGN.md lives:
 * 1  single flight ............ single-flight.ts; `startFlight`, `refreshed` here
 * 2  stale 401, per session ... `tokenRejected` (session id + generation, session.ts)
 * 3  retry once ............... the adapters (src/adapters)
 * 4  proactive, non-blocking .. expiry.ts `urgencyOf`; `peekToken` starts it in the background
 * 5  clock skew, odd expiries . expiry.ts `readExpiry`
 * 6  failure .................. `run` → `fail`; retry.ts (backoff, cooldown); storage bounds in persistence.ts
 * 7  cancellation ............. internal/waiters.ts (every caller's wait)
 * 10 storage faults ........... persistence.ts; `load`, `reread` (a failed start-up read is tried again),
 *                               `persistAfterDispose` (no rotated token stranded)
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
import { createWaiters } from './internal/waiters.js'
import { delay, unrefTimer } from './internal/timers.js'
import { readOptions } from './options.js'
import { createPersistence } from './persistence.js'
import { backoffDelay, createCooldown } from './retry.js'
import { hasAccessToken, newSessionId, storedSessionId, toSession, toTokenSet, type Session, type SignedOutReason } from './session.js'
import { createSingleFlight, type Flight } from './single-flight.js'
import type { AccessToken, CrossTabLink, ManagerState, SignOutReason, TokenManager, TokenManagerOptions, TokenSet, TokenStamp } from './types.js'

/** What a refresh settled on: new tokens of the session, or tokens another tab already wrote (`adopted`). */
interface Landing {
  session: Session
  adopted: boolean
  problem?: string
}

const READ_RETRY_MS = 1_000
const MAX_READ_RETRY_MS = 30_000

const disposedError = () => new AuthError('DISPOSED', 'The token manager was disposed')
const notSignedIn = (message = 'Not signed in: call setTokens() after login') => new AuthError('NOT_SIGNED_IN', message)

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
  const { refresh: refreshFn, now, windowMs, timeoutMs, attempts, baseDelayMs } = settings

  const events = createEmitter()
  const emit = events.emit
  const waiters = createWaiters()
  const flights = createSingleFlight()
  const cooldown = createCooldown(settings.cooldownMs, now)
  const persistence = createPersistence(settings.storage, settings.storageTimeoutMs, (error) => emit('error', { error, source: 'storage' }))
  let link: CrossTabLink | undefined

  // ---- state ---------------------------------------------------------------
  let phase: 'loading' | 'ready' | 'disposed' = 'loading'
  let markReady!: () => void
  let markDisposed!: (error: AuthError) => void
  const ready = new Promise<void>((resolve, reject) => {
    markReady = resolve
    markDisposed = reject
  })
  ready.catch(() => {})
  let session: Session | null = null
  /** Why there is no session; `sessionId` and `error` of the session that ended, for late 401s. */
  let ended: { reason: SignedOutReason; sessionId?: string; error?: AuthError } = { reason: 'none' }
  /** The last transient refresh failure of the current session, shown in the state until a refresh succeeds. */
  let lastFailure: RefreshFailedError | undefined
  /** The start-up read failed (a locked Keychain): the next call after `retryAt` reads again. */
  let unread: { failures: number; retryAt: number } | undefined
  let rereading: Promise<void> | undefined
  let state: ManagerState = { status: 'loading', refreshing: false }
  /** A session whose token the server refused (a 401): callers wait for its refresh, though the clock says it is valid. */
  let refused: Session | undefined

  const snapshot = (): ManagerState => {
    const refreshing = flights.current !== undefined
    if (isDisposed()) return { status: 'disposed', refreshing: false }
    if (phase === 'loading') return { status: 'loading', refreshing }
    if (session) {
      const signedIn = { status: 'signedIn', refreshing, session: session.id, expiresAt: session.expiresAt } as const
      return lastFailure ? { ...signedIn, error: lastFailure } : signedIn
    }
    const signedOut = { status: 'signedOut', refreshing, reason: ended.reason } as const
    return ended.error ? { ...signedOut, error: ended.error } : signedOut
  }

  /** Recomputes the state; a new object only when something in it changed. */
  const refreshState = (): boolean => {
    const next = snapshot() as Record<string, unknown>
    const previous = state as Record<string, unknown>
    const keys = new Set([...Object.keys(next), ...Object.keys(previous)])
    if ([...keys].every((key) => next[key] === previous[key])) return false
    state = next as ManagerState
    return true
  }

  const announceState = () => {
    if (refreshState()) emit('state', state)
  }

  /** Read through a function: listeners may dispose the manager in the middle of anything. */
  const isDisposed = () => phase === 'disposed'

  const leaveLoading = () => {
    if (phase !== 'loading') return
    phase = 'ready'
    markReady()
  }

  // ---- session changes -------------------------------------------------------

  /**
   * Makes `next` the session. Any refresh of another session (or of none) no
   * longer applies: it is superseded, and its waiters see the new state.
   */
  function setSession(next: Session, how: { persist: boolean; publish: boolean; announce: boolean }): Promise<void> {
    const previous = session
    session = next
    unread = undefined
    leaveLoading() // a login before the stored session has loaded wins over it
    if (next.id !== previous?.id) {
      cooldown.reset()
      lastFailure = undefined
    }
    const f = flights.current
    if (f && f.from?.id !== next.id) supersede(f)
    const tokens = toTokenSet(next)
    if (how.publish) link?.publish(tokens)
    const written = how.persist ? persistence.write(tokens) : Promise.resolve()
    if (how.announce) emit('tokens', tokens)
    announceState()
    return written
  }

  /** Ends the session (or confirms there is none); `signedOut` only on a real transition. */
  function endSession(reason: SignOutReason, how: { local: boolean; error?: AuthError }): Promise<void> {
    const previous = session
    session = null
    unread = undefined
    leaveLoading()
    if (previous || reason === 'cleared') ended = { reason, sessionId: previous?.id, error: how.error }
    cooldown.reset()
    lastFailure = undefined
    const f = flights.current
    if (f) supersede(f)
    if (how.local) link?.publish(null)
    const written = how.local ? persistence.write(null) : Promise.resolve()
    if (previous) emit('signedOut', { reason })
    announceState()
    return written
  }

  /** Tokens from storage (start-up, a re-read): not announced as new, and may have expired meanwhile. */
  function adoptStored(stored: TokenSet) {
    void setSession(toSession(stored, storedSessionId(stored), now(), 'stored').session, { persist: false, publish: false, announce: false })
  }

  const reportExpiry = (problem: string | undefined) => {
    if (problem) emit('error', { error: new RangeError(problem), source: 'expiry' })
  }

  // ---- loading ---------------------------------------------------------------

  const readFailed = (error: unknown) => {
    const failures = (unread?.failures ?? 0) + 1
    unread = { failures, retryAt: now() + Math.min(READ_RETRY_MS * 2 ** (failures - 1), MAX_READ_RETRY_MS) }
    emit('error', { error, source: 'storage' })
  }

  let loadStarted = false

  /**
   * The start-up read (DESIGN 10), on first use (creating a manager touches no
   * storage: SSR-safe). A synchronous storage is read at once, so the first
   * request takes the fast path.
   */
  function load() {
    if (loadStarted || phase !== 'loading') return
    loadStarted = true
    const loaded = (stored: TokenSet | null) => {
      if (phase !== 'loading') return // a login or sign-out came first and wins
      if (stored) adoptStored(stored)
      else leaveLoading()
      announceState()
    }
    const failed = (error: unknown) => {
      if (phase !== 'loading') return
      leaveLoading()
      readFailed(error)
      announceState()
    }
    let stored: ReturnType<typeof persistence.read>
    try {
      stored = persistence.read()
    } catch (error) {
      return failed(error)
    }
    if (stored && 'then' in stored) stored.then(loaded, failed)
    else loaded(stored)
  }

  /** Reads storage again after a failed start-up read; one read at a time. */
  function reread(): Promise<void> {
    rereading ??= Promise.resolve()
      .then(persistence.read)
      .then(
        (stored) => {
          if (!unread || session || phase !== 'ready') return
          unread = undefined
          if (stored) adoptStored(stored)
          announceState()
        },
        (error) => {
          if (unread) readFailed(error)
        },
      )
      .finally(() => (rereading = undefined))
    return rereading
  }

  /**
   * Waits until the manager can answer: the start-up read, or a re-read that is
   * due. Nothing to wait for: no promise, so a refresh a caller needs starts in
   * the same tick as the call.
   */
  function settled(signal: AbortSignal | undefined): Promise<void> | undefined {
    if (isDisposed()) return Promise.reject(disposedError())
    load()
    const waiting = phase === 'loading' ? ready : unread && now() >= unread.retryAt ? reread() : undefined
    return waiting && waiters.wait(waiting, signal).then(() => {
      if (isDisposed()) throw disposedError()
    })
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
    const merged = { ...tokens, refreshToken: tokens.refreshToken === undefined ? (from?.refreshToken ?? null) : tokens.refreshToken }
    const { session: next, problem } = toSession(merged, from?.id ?? newSessionId(), now(), 'refresh')
    // No progress (the same expiry again): proactive refresh would run on every request; refresh on 401 only.
    if (from?.expiresAt !== undefined && next.expiresAt !== undefined && next.expiresAt <= from.expiresAt) {
      return { session: { ...next, proactive: false }, adopted: false, problem: problem ?? 'The refreshed access token expires no later than the one it replaced: proactive refresh is off for it' }
    }
    return { session: next, adopted: false, problem }
  }

  function startFlight(from: Session | null): Flight {
    const f = flights.start(from)
    announceState()
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

  /** A refresh succeeded: waiters resume and read the new session. */
  function land(f: Flight, landing: Landing) {
    if (!flights.end(f, 'done')) return
    cooldown.reset()
    lastFailure = undefined
    // With a link, the tokens were written inside the lock already.
    void setSession(landing.session, { persist: !link, publish: !!link && !landing.adopted, announce: true })
    reportExpiry(landing.problem)
  }

  function fail(f: Flight, failure: unknown, terminal: boolean) {
    if (terminal) {
      const error = new SessionExpiredError({ cause: failure })
      if (!flights.end(f, 'failed', error)) return
      emit('refreshFailed', { error })
      if (session && session.id === f.from?.id) void endSession('expired', { local: true, error })
      else announceState()
      return
    }
    const error =
      failure instanceof RefreshFailedError ? failure : new RefreshFailedError('REFRESH_FAILED', 'The refresh failed; the session is kept', { cause: failure })
    if (!flights.end(f, 'failed', error)) return
    cooldown.failed(f.from?.id ?? null, error)
    lastFailure = error
    emit('refreshFailed', { error })
    announceState()
  }

  /** One call of the refresh function, bounded by the timeout. Settles with its own errors, never via `signal.reason`. */
  function attempt(f: Flight): Promise<TokenSet> {
    const from = f.from
    const controller = new AbortController()
    f.attempt = controller
    return new Promise<TokenSet>((resolve, reject) => {
      let timedOut = false
      const cancel = unrefTimer(() => {
        timedOut = true
        const error = new RefreshFailedError('REFRESH_TIMEOUT', `The refresh did not answer within ${timeoutMs} ms`)
        controller.abort(error)
        reject(error)
      }, timeoutMs)
      // Called now, not a tick later (a login in between must not see it start); a synchronous throw rejects.
      new Promise<TokenSet>((call) => call(refreshFn({ refreshToken: from?.refreshToken ?? null, signal: controller.signal })))
        .then((tokens) => {
          if (!hasAccessToken(tokens)) throw new RefreshFailedError('REFRESH_FAILED', 'The refresh function resolved without an accessToken')
          return tokens
        })
        .then(
          (tokens) => {
            cancel()
            if (timedOut || f.endedBy === 'disposed') lateAnswer(f, controller, tokens)
            resolve(tokens)
          },
          (error: unknown) => {
            cancel()
            if (timedOut) lateFailure(f, error)
            reject(error)
          },
        )
    })
  }

  /**
   * An answer after its attempt timed out still counts while nothing newer
   * happened: the server has rotated, and presenting the old refresh token again
   * would be a reuse. After `dispose()`, it goes to storage for the next manager.
   */
  function lateAnswer(f: Flight, controller: AbortController, tokens: TokenSet) {
    if (f.endedBy === 'disposed') return persistAfterDispose(f.from, tokens)
    if (isDisposed() || session !== f.from) return
    const landing = landingOf(f.from, tokens)
    if (f.attempt !== controller) f.attempt?.abort() // a retry presenting the old token would be a reuse
    if (flights.current === f) return land(f, landing)
    cooldown.reset()
    lastFailure = undefined
    void setSession(landing.session, { persist: true, publish: true, announce: true })
    reportExpiry(landing.problem)
  }

  /** A late `invalid_grant` ends the session, as an answer in time would have. */
  function lateFailure(f: Flight, failure: unknown) {
    if (isDisposed() || !session || session !== f.from || !isFatal(failure)) return
    if (flights.current === f) return fail(f, failure, true)
    void endSession('expired', { local: true, error: new SessionExpiredError({ cause: failure }) })
  }

  /** DESIGN 10: a manager disposed mid-refresh does not strand a rotated refresh token in storage. */
  function persistAfterDispose(from: Session | null, tokens: TokenSet) {
    if (!from?.refreshToken) return
    void Promise.resolve()
      .then(persistence.read)
      .then((stored) => {
        // Only over the tokens this refresh replaced: never over a newer login of the next manager.
        if (stored?.refreshToken === from.refreshToken) return persistence.write(toTokenSet(landingOf(from, tokens).session))
      })
      .catch(() => {})
  }

  /** Under the cross-tab lock: adopt what another tab wrote meanwhile, else refresh and write before the lock is released. */
  async function exclusiveRefresh(f: Flight, exclusive: CrossTabLink['exclusive']): Promise<Landing | null> {
    let landing: Landing | null = null
    await exclusive(async () => {
      const shared = await Promise.resolve().then(persistence.read).catch(() => null)
      if (flights.current !== f) return null
      const from = f.from
      // (Never an older session than ours: a lagging storage view may still show one.)
      const older = shared?.expiresAt !== undefined && from?.expiresAt !== undefined && shared.expiresAt < from.expiresAt
      if (shared && shared.accessToken !== from?.accessToken && !older) {
        landing = { session: toSession(shared, shared.sessionId ?? from?.id ?? newSessionId(), now(), 'stored').session, adopted: true }
        return shared
      }
      const fresh = landingOf(from, await attempt(f))
      landing = fresh
      const tokens = toTokenSet(fresh.session)
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
      const terminal = isFatal(failure)
      if (terminal || retry >= attempts) return fail(f, failure, terminal)
      const backoff = delay(backoffDelay(retry, baseDelayMs))
      f.onEnd(backoff.stop) // an overtaken or disposed flight leaves no timer behind
      await backoff.done
      if (flights.current !== f) return
    }
  }

  /**
   * Waits for a refresh of `from`: joins the flight in flight or starts one. Returns
   * at once if the session changed meanwhile (the caller re-reads it); throws the
   * refresh's error. Within the cooldown of a failure, rejects at once (DESIGN 14).
   */
  async function refreshed(from: Session | null, signal: AbortSignal | undefined, explicit = false): Promise<void> {
    if (signal?.aborted) throw abortReason(signal) // an aborted caller never starts a refresh
    if (session !== from) return
    let f = flights.current
    if (!f) {
      const cooling = explicit ? undefined : cooldown.active(from?.id ?? null)
      if (cooling) throw cooling
      f = startFlight(from)
    }
    const error = await waiters.wait(f.done, signal)
    if (error) throw error
  }

  /** DESIGN 4: inside the window, one refresh in the background; the request does not wait for it. */
  function refreshInBackground(from: Session) {
    if (!flights.current && session === from && !cooldown.active(from.id)) startFlight(from)
  }

  /** The error for a caller whose session ended while it waited. */
  function endedError(from: Session | null): AuthError {
    if (isDisposed()) return disposedError()
    if (!session && ended.reason === 'expired' && ended.error && (!from || ended.sessionId === from.id)) return ended.error
    return notSignedIn('The session ended while waiting for its refresh (sign-out or another login)')
  }

  const signedOutError = () => (ended.reason === 'expired' && ended.error ? ended.error : notSignedIn())

  // ---- the public surface ------------------------------------------------------

  function peekToken(): AccessToken | null | undefined {
    load()
    if (phase !== 'ready' || (unread && now() >= unread.retryAt)) return undefined
    const s = session
    if (!s) return null
    const urgency = urgencyOf(s, now(), windowMs, s.proactive)
    if (urgency === 'now' || s === refused) return undefined
    if (urgency === 'soon') refreshInBackground(s)
    // A listener of the refresh may have changed the session: then ask again, the slow way.
    return session === s ? s.access : undefined
  }

  async function getToken(opts?: { signal?: AbortSignal }): Promise<AccessToken | null> {
    let token = peekToken()
    if (token !== undefined) return token
    const signal = opts?.signal
    const waiting = settled(signal)
    if (waiting) await waiting
    token = peekToken()
    if (token !== undefined) return token
    const s = session
    if (!s) return null
    if (urgencyOf(s, now(), windowMs, s.proactive) !== 'now' && s !== refused) return s.access // a listener changed the session
    try {
      await refreshed(s, signal)
    } catch (error) {
      // A refresh that failed for now while the token is still valid (inside the margin, never refused): use it.
      if (error instanceof RefreshFailedError && session === s && s !== refused && now() < s.expiresAt!) return s.access
      throw error
    }
    if (isDisposed()) throw disposedError()
    if (session && session.id === s.id) return session.access
    throw endedError(s)
  }

  async function tokenRejected(sent: TokenStamp | null, opts?: { signal?: AbortSignal }): Promise<AccessToken | null> {
    const signal = opts?.signal
    const waiting = settled(signal)
    if (waiting) await waiting
    const s = session
    if (!sent || !s || s.id !== sent.session) {
      // Sent without a token, or under a session that has ended: never retried under another one.
      emit('unauthorized', { outcome: 'handed-back' })
      if (!session && ended.reason === 'expired' && ended.error && (!sent || ended.sessionId === sent.session)) throw ended.error
      return null
    }
    if (s.generation > sent.generation) {
      emit('unauthorized', { outcome: 'retry' })
      if (session === s) return s.access
    } else {
      refused = s
      emit('unauthorized', { outcome: 'refresh' })
      await refreshed(s, signal)
    }
    if (isDisposed()) throw disposedError()
    if (session && session.id === sent.session) return session.access
    if (!session && ended.reason === 'expired' && ended.error && ended.sessionId === sent.session) throw ended.error
    return null
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
        if (!s) throw signedOutError()
        if (!flights.current && s.accessToken !== staleToken) return s.accessToken
        refused = s
      }
      await refreshed(s, opts.signal, staleToken === undefined)
      if (isDisposed()) throw disposedError()
      if (session && (!s || session.id === s.id)) return session.accessToken
      throw endedError(s)
    },

    async setTokens(tokens) {
      if (isDisposed()) throw disposedError()
      if (!hasAccessToken(tokens)) throw new TypeError('setTokens(): "accessToken" must be a non-empty string')
      // The current session's id continues it (another tab's tokens); anything else is a new login.
      const id = session && tokens.sessionId === session.id ? session.id : newSessionId()
      const { session: next, problem } = toSession(tokens, id, now(), 'login')
      const written = setSession(next, { persist: true, publish: true, announce: true })
      reportExpiry(problem)
      await written
    },

    async clear() {
      if (phase !== 'disposed') await endSession('cleared', { local: true })
    },

    get isRefreshing() {
      return flights.current !== undefined
    },

    getState() {
      load()
      refreshState()
      return state
    },

    on: events.on,

    dispose() {
      if (isDisposed()) return
      phase = 'disposed'
      const error = disposedError()
      markDisposed(error)
      // The run stops at its next step; an attempt already sent goes on, and its answer goes to storage.
      const f = flights.current
      if (f) flights.end(f, 'disposed', error)
      waiters.rejectAll(error)
      link?.close()
      announceState()
      events.clear()
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
            if (session) void endSession('remote', { local: false })
            return
          }
          if (!hasAccessToken(tokens)) return
          const id = tokens.sessionId ?? session?.id ?? newSessionId()
          if (session && session.id === id) {
            // The same session: an echo, or older tokens from a lagging view; never go back to them.
            if (session.accessToken === tokens.accessToken) return
            if (tokens.expiresAt !== undefined && session.expiresAt !== undefined && tokens.expiresAt < session.expiresAt) return
          }
          const next = toSession(tokens, id, now(), 'stored').session
          const f = flights.current
          // A refresh of this session in flight here: the other tab did it; settle ours with its tokens.
          if (f && f.from?.id === id) {
            f.attempt?.abort()
            land(f, { session: next, adopted: true })
          } else void setSession(next, { persist: false, publish: false, announce: true })
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
