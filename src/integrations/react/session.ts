import { createContext, createElement, useContext, useMemo, useSyncExternalStore, type ReactElement, type ReactNode } from 'react'
import { AuthError, type RefreshFailedError } from '../../core/errors.js'
import type { ManagerState, SignOutReason, TokenManager } from '../../core/types.js'

/**
 * What a UI needs to know about the session: no token (see the README of the
 * entry: tokens stay out of React's tree, where devtools and error reporters
 * read state).
 */
export type SessionState =
  /** The manager has not read its storage yet; on the server and while hydrating, always this. */
  | { readonly status: 'loading'; readonly error?: undefined }
  /** Signed in. `error`: the last refresh that failed for now (offline, 5xx), until one succeeds. */
  | { readonly status: 'signedIn'; readonly error?: RefreshFailedError }
  /** Signed in, and a refresh is in flight: keep showing the app (requests wait for it on their own). */
  | { readonly status: 'refreshing'; readonly error?: RefreshFailedError }
  /**
   * Signed out. `reason`: `none` (never signed in, nothing stored), `cleared`
   * (`manager.clear()`), `expired` (the refresh was refused: `error` is the
   * `SessionExpiredError`), `remote` (another tab signed out).
   */
  | { readonly status: 'signedOut'; readonly reason: SignOutReason | 'none'; readonly error?: AuthError }

const LOADING: SessionState = { status: 'loading' }

/** The session state a manager state shows; a new object only when the manager's state changed. */
function toSessionState(state: ManagerState): SessionState {
  switch (state.status) {
    case 'loading':
      return LOADING
    case 'signedIn':
      return { status: state.refreshing ? 'refreshing' : 'signedIn', error: state.error }
    case 'signedOut':
      // A refresh with no session (cookie mode at start-up) decides whether there is one: not known yet.
      if (state.refreshing) return LOADING
      return { status: 'signedOut', reason: state.reason, error: state.error }
    case 'disposed':
      return { status: 'signedOut', reason: 'none', error: new AuthError('DISPOSED', 'The manager was disposed') }
  }
}

const ManagerContext = createContext<TokenManager | null>(null)

/** Props of {@link SessionProvider}. */
export interface SessionProviderProps {
  /** The app's token manager, created once at module level (not in a component: a re-render must not make another). */
  manager: TokenManager
  children?: ReactNode
}

/**
 * Makes `manager` available to {@link useSession} and {@link useTokenManager}
 * below it. It creates nothing and disposes nothing, so StrictMode's double
 * mount and hot reload leave the manager as it is.
 *
 * @example
 * createRoot(root).render(<SessionProvider manager={manager}><App /></SessionProvider>)
 */
export function SessionProvider({ manager, children }: SessionProviderProps): ReactElement {
  if (typeof manager?.getState !== 'function' || typeof manager.on !== 'function') {
    throw new TypeError('<SessionProvider manager>: "manager" must be the token manager from createTokenManager({ refresh })')
  }
  return createElement(ManagerContext.Provider, { value: manager }, children)
}

/** The manager of the nearest {@link SessionProvider}: for `setTokens()` after a login, `clear()` to sign out. */
export function useTokenManager(): TokenManager {
  const manager = useContext(ManagerContext)
  if (!manager) throw new Error('useSession() and useTokenManager() must be called below <SessionProvider manager={manager}>')
  return manager
}

/**
 * The session's state, re-rendering when it changes: `loading`, `signedIn`,
 * `refreshing` (still signed in) or `signedOut`, with the error that explains
 * it. Built on `useSyncExternalStore`; during server rendering and hydration it
 * is `loading`, so the server's HTML and the first client render agree.
 *
 * @example
 * const session = useSession()
 * if (session.status === 'loading') return <Spinner />
 * if (session.status === 'signedOut') return <Login expired={session.reason === 'expired'} />
 * return <App offline={session.error !== undefined} />
 */
export function useSession(): SessionState {
  const manager = useTokenManager()
  const store = useMemo(
    () => ({
      subscribe: (onChange: () => void) => manager.on('state', onChange),
      // The same object until something changes, as useSyncExternalStore requires.
      snapshot: (): ManagerState | null => manager.getState(),
    }),
    [manager],
  )
  const state = useSyncExternalStore(store.subscribe, store.snapshot, serverSnapshot)
  return useMemo(() => (state ? toSessionState(state) : LOADING), [state])
}

/** The server snapshot: nothing is read on the server, and hydration starts from the same answer. */
const serverSnapshot = (): ManagerState | null => null
