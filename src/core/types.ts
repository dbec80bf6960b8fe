import type { AuthError, RefreshFailedError } from './errors.js'

/**
 * What a login or a refresh yields.
 *
 * Expiry, first that applies: `expiresAt`; `expiresIn` from receipt; the JWT's
 * `exp - iat` from receipt; the JWT's `exp`; else unknown (reactive refresh only).
 */
export interface TokenSet {
  /** The access token: a JWT or an opaque string. */
  accessToken: string
  /** `null` or absent when the server keeps the refresh token in an HttpOnly cookie. */
  refreshToken?: string | null
  /** Epoch milliseconds on the client's clock. */
  expiresAt?: number
  /** Seconds from receipt, as OAuth's `expires_in`. */
  expiresIn?: number
  /**
   * Set by the manager on the tokens it stores and announces: which login they
   * belong to (kept across refreshes). `setTokens()` with the current session's
   * id continues that session; without it, a new session starts.
   */
  sessionId?: string
}

/**
 * Which token a request was sent with: its session and generation, never the
 * token itself, so it can sit on a request config a logger may print.
 */
export interface TokenStamp {
  /** The login the token belongs to. */
  readonly session: string
  /** Increases with every new token, across sessions. */
  readonly generation: number
}

/** A valid access token, with the stamp a request remembers it by. */
export interface AccessToken extends TokenStamp {
  /** The token to send. */
  readonly value: string
}

/** Exchanges a refresh token for new tokens. Reject to fail; see `isSessionExpired`. */
export type RefreshFn = (context: { refreshToken: string | null; signal: AbortSignal }) => Promise<TokenSet>

/**
 * Where tokens are kept. Each method may be sync or async. A storage that
 * throws or does not answer never breaks requests: the manager emits `error`
 * and keeps tokens in memory.
 */
export interface TokenStorage {
  get(): TokenSet | null | Promise<TokenSet | null>
  set(tokens: TokenSet): void | Promise<void>
  clear(): void | Promise<void>
}

/** Why a session ended. `expired`: the server refused the refresh; `cleared`: `clear()`; `remote`: another tab signed out. */
export type SignOutReason = 'expired' | 'cleared' | 'remote'

/** What happened to a request's 401 (see the `unauthorized` event). */
export type UnauthorizedOutcome =
  /** The session has a newer token already: retried with it, no refresh. */
  | 'retry'
  /** The token was the current one: retried after the one shared refresh. */
  | 'refresh'
  /** Not retried: its session ended (sign-out, another login) or it was sent without a token; the caller gets the 401 or a `SessionExpiredError`. */
  | 'handed-back'

/**
 * The manager's state, for UIs (`useSyncExternalStore`) and debugging panels.
 * A new object on every change (compare by identity); never holds a token.
 */
export type ManagerState =
  | { readonly status: 'loading'; readonly refreshing: boolean }
  | {
      readonly status: 'signedIn'
      readonly refreshing: boolean
      /** The login's id (see `TokenSet.sessionId`). */
      readonly session: string
      /** Epoch ms; undefined when unknown. */
      readonly expiresAt: number | undefined
      /** The last transient refresh failure of this session, until a refresh succeeds. */
      readonly error?: RefreshFailedError
    }
  | {
      readonly status: 'signedOut'
      readonly refreshing: boolean
      /** `none`: never signed in (or nothing stored). */
      readonly reason: SignOutReason | 'none'
      /** The `SessionExpiredError` that ended the session (reason `expired`). */
      readonly error?: AuthError
    }
  | { readonly status: 'disposed'; readonly refreshing: false }

/** Events of a {@link TokenManager} and the argument each listener receives. */
export interface TokenManagerEvents {
  /** New tokens from login, refresh or another tab. */
  tokens: TokenSet
  /** A refresh starts. */
  refresh: undefined
  /** A refresh failed, for good (`SessionExpiredError`) or for now (`RefreshFailedError`). */
  refreshFailed: { error: AuthError }
  /** The session ended. */
  signedOut: { reason: SignOutReason }
  /** A request's 401 (or `shouldRefresh`) was handled; count 401s here without an interceptor of your own. */
  unauthorized: { outcome: UnauthorizedOutcome }
  /** {@link TokenManager.getState} changed. */
  state: ManagerState
  /**
   * Something failed that did not stop requests: a storage fault, the cross-tab
   * link, a listener that threw, or an expiry that could not be used (`expiry`).
   */
  error: { error: unknown; source: 'storage' | 'cross-tab' | 'listener' | 'expiry' }
}

/** The messages a manager and its {@link CrossTab} link exchange. */
export interface CrossTabHost {
  /** Tokens written by another tab, or `null` when it signed out. */
  receive(tokens: TokenSet | null): void
  /** Reads what the shared storage holds now. */
  read(): Promise<TokenSet | null>
}

/** A live cross-tab link, from {@link CrossTab.connect}. */
export interface CrossTabLink {
  /**
   * Runs the manager's refresh `task` while holding the cross-tab refresh lock.
   * The task re-reads storage first and writes the new tokens before it settles,
   * so the next holder sees them. It resolves with the tokens it settled on (new,
   * or adopted from another tab), or `null` when it was superseded.
   */
  exclusive(task: () => Promise<TokenSet | null>): Promise<TokenSet | null>
  /** Tells the other tabs about new tokens (or a sign-out, `null`). */
  publish(tokens: TokenSet | null): void
  close(): void
}

/** Cross-tab coordination, made by `crossTab()` from "silent-refresh/cross-tab". */
export interface CrossTab {
  /** Called once by the manager; `manager` lets the link re-check expiry (on wake, online). */
  connect(host: CrossTabHost, manager: TokenManager): CrossTabLink
}

/** The retry policy of a refresh; every field is optional. */
export interface RetryOptions {
  /** Retries after the first try, transient failures only. @default 2 */
  attempts?: number
  /** The first retry waits this long, each next one twice as long, scaled by a random 50–100 %. @default 300 */
  baseDelayMs?: number
  /**
   * After two refreshes of a session in a row failed for now (their retries
   * spent), a new refresh of it within this time rejects at once with that
   * error, so a client's own retry (ky, TanStack Query) does not multiply
   * refreshes. One failure alone is a blip: the next request tries again.
   * Doubles with each further failure, up to 60 s; 0 turns it off.
   * `manager.refresh()` ignores it.
   * @default 5_000
   */
  cooldownMs?: number
}

/**
 * How requests present the token beyond a bearer header: proof of possession
 * such as DPoP (`dpop()` from "silent-refresh/dpop"). The adapters ask it for
 * headers on every attempt (a retried request gets fresh ones) and show it
 * every answer. Generic: the manager only keeps it and connects it.
 */
export interface RequestSender {
  /** The scheme the adapters put before the token, in place of their `scheme` option (e.g. 'DPoP'). */
  readonly scheme: string
  /** Headers for one attempt of `method url` with `token`, beside the token header. */
  headers(method: string, url: string, token: string): Promise<Record<string, string>>
  /**
   * Each answer of an attempt (a fetch `Response` or an axios response).
   * `true`: the server asked for the same attempt again with fresh headers (a
   * DPoP nonce): the adapter sends it once more, which is not a refresh; a
   * second `true` for the same attempt hands the answer back.
   */
  answered(url: string, response: { status: number; headers: unknown }): boolean
  /** Called once by the manager (e.g. to forget a key on sign-out). */
  connect?(manager: TokenManager): void
}

export interface TokenManagerOptions {
  /** Exchanges the refresh token for new tokens; see `refreshTokenGrant()` for OAuth servers. */
  refresh: RefreshFn
  /** Where tokens live. @default memoryStorage() */
  storage?: TokenStorage
  /** Refresh this long before expiry, in the background, never more than half the token's lifetime. @default 30_000 */
  refreshBeforeExpiryMs?: number
  /** Per attempt; a timeout is a `RefreshFailedError` with code `REFRESH_TIMEOUT`. @default 15_000 */
  refreshTimeoutMs?: number
  /** Transient failures are retried, exponential with jitter. @default { attempts: 2, baseDelayMs: 300, cooldownMs: 5_000 } */
  retry?: RetryOptions
  /** How long a storage call may take before the manager goes on without it (and reports it). @default 5_000 */
  storageTimeoutMs?: number
  /** Is this refresh failure terminal (sign the user out)? @default isSessionExpired */
  isSessionExpired?: (error: unknown) => boolean
  /** One refresh across browser tabs, and token sync; from "silent-refresh/cross-tab". */
  crossTab?: CrossTab
  /** The clock, for tests. @default Date.now */
  now?: () => number
  /** Proof of possession on every request, e.g. `dpop()` from "silent-refresh/dpop". The adapters use it. */
  sender?: RequestSender
}

export interface TokenManager {
  /** A valid access token, refreshed first if it is about to expire; `null` when signed out. */
  getAccessToken(options?: { signal?: AbortSignal }): Promise<string | null>
  /**
   * Like {@link getAccessToken}, with the stamp (session, generation) a request
   * keeps to hand to {@link tokenRejected} if it meets a 401. For adapters.
   */
  getToken(options?: { signal?: AbortSignal }): Promise<AccessToken | null>
  /**
   * The fast path: the token at once, with no promise, when one is loaded and
   * valid (a refresh inside the window starts in the background); `null` when
   * signed out; `undefined` when the answer needs waiting: call {@link getToken}.
   */
  peekToken(): AccessToken | null | undefined
  /**
   * A request sent with `sent` (or with no token, `null`) was refused (401).
   * Resolves with the token to retry with: a newer one of the same session at
   * once, or the result of the one shared refresh. Resolves `null` when the
   * request must be handed back as it is: its session ended (sign-out, another
   * login, another tab) or it went without a token. Rejects with
   * `SessionExpiredError` when the refresh was refused for good (now, or
   * earlier for this request's session) and with `RefreshFailedError` when it
   * failed for now.
   */
  tokenRejected(sent: TokenStamp | null, options?: { signal?: AbortSignal }): Promise<AccessToken | null>
  /**
   * Refreshes once for every caller and resolves with the new access token.
   * Explicit calls ignore the retry cooldown. `staleToken` (the token a 401
   * answered) is the older form of {@link tokenRejected}: no refresh when the
   * current token is already a different one.
   */
  refresh(options?: { signal?: AbortSignal; staleToken?: string }): Promise<string>
  /** Starts a session, after login. A refresh in flight is superseded, not applied. */
  setTokens(tokens: TokenSet): Promise<void>
  /** Local sign-out: forgets the tokens; a refresh in flight is not applied. */
  clear(): Promise<void>
  /** Whether a refresh is in flight. */
  readonly isRefreshing: boolean
  /** The `sender` option, for the adapters. */
  readonly sender?: RequestSender
  /** The current state; the same object until something changes. */
  getState(): ManagerState
  /** Listens to an event; returns the unsubscribe function. */
  on<E extends keyof TokenManagerEvents>(event: E, listener: (payload: TokenManagerEvents[E]) => void): () => void
  /**
   * Stops everything: waiters reject with `DISPOSED` at once; no timer or
   * listener remains. A refresh request already sent is not cut off: its
   * answer, if it comes within `refreshTimeoutMs`, is written to storage (never
   * applied), so the next manager does not present a rotated refresh token.
   */
  dispose(): void
}
