import type { AuthError } from './errors.js'

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
}

/** Exchanges a refresh token for new tokens. Reject to fail; see `isSessionExpired`. */
export type RefreshFn = (context: { refreshToken: string | null; signal: AbortSignal }) => Promise<TokenSet>

/**
 * Where tokens are kept. Each method may be sync or async. A storage that
 * throws never breaks requests: the manager emits `error` and keeps tokens in memory.
 */
export interface TokenStorage {
  get(): TokenSet | null | Promise<TokenSet | null>
  set(tokens: TokenSet): void | Promise<void>
  clear(): void | Promise<void>
}

/** Why a session ended. `remote`: another tab signed out. */
export type SignOutReason = 'expired' | 'cleared' | 'remote'

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
  /** Something failed that did not stop requests. */
  error: { error: unknown; source: 'storage' | 'cross-tab' | 'listener' }
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
   * Runs `task` while holding the cross-tab refresh lock. The manager re-reads
   * storage first and writes the new tokens before `task` settles, so the next
   * holder sees them; the link must make that write visible to it.
   */
  exclusive<T>(task: () => Promise<T>): Promise<T>
  /** Tells the other tabs about new tokens (or a sign-out, `null`). */
  publish(tokens: TokenSet | null): void
  close(): void
}

/** Cross-tab coordination, made by `crossTab()` from "silent-refresh/cross-tab". */
export interface CrossTab {
  /** Called once by the manager; `manager` lets the link re-check expiry (on wake, online). */
  connect(host: CrossTabHost, manager: TokenManager): CrossTabLink
}

export interface TokenManagerOptions {
  /** Exchanges the refresh token for new tokens; see `refreshTokenGrant()` for OAuth servers. */
  refresh: RefreshFn
  /** Where tokens live. @default memoryStorage() */
  storage?: TokenStorage
  /** Refresh this long before expiry, never more than half the token's lifetime. @default 30_000 */
  refreshBeforeExpiryMs?: number
  /** Per attempt; a timeout is a `RefreshFailedError` with code `REFRESH_TIMEOUT`. @default 15_000 */
  refreshTimeoutMs?: number
  /** Retries after the first try, transient failures only, exponential with jitter; each field defaults on its own. @default { attempts: 2, baseDelayMs: 300 } */
  retry?: { attempts?: number; baseDelayMs?: number }
  /** Is this refresh failure terminal (sign the user out)? @default isSessionExpired */
  isSessionExpired?: (error: unknown) => boolean
  /** One refresh across browser tabs, and token sync; from "silent-refresh/cross-tab". */
  crossTab?: CrossTab
  /** The clock, for tests. @default Date.now */
  now?: () => number
}

export interface TokenManager {
  /** A valid access token, refreshed first if it expires soon; `null` when signed out. */
  getAccessToken(options?: { signal?: AbortSignal }): Promise<string | null>
  /**
   * Refreshes once for every caller. With `staleToken` (the token a 401 answered),
   * no refresh happens when the current token is already a newer one.
   */
  refresh(options?: { signal?: AbortSignal; staleToken?: string }): Promise<string>
  /** Starts a session, after login. A refresh in flight is superseded, not applied. */
  setTokens(tokens: TokenSet): Promise<void>
  /** Local sign-out: forgets the tokens; a refresh in flight is not applied. */
  clear(): Promise<void>
  /** Whether a refresh is in flight. */
  readonly isRefreshing: boolean
  /** Listens to an event; returns the unsubscribe function. */
  on<E extends keyof TokenManagerEvents>(event: E, listener: (payload: TokenManagerEvents[E]) => void): () => void
  /** Stops everything: waiters reject with `DISPOSED`; no timer or listener remains. */
  dispose(): void
}
