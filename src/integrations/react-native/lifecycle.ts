import type { TokenManager } from '../../core/types.js'

/**
 * What the helper needs of react-native's `AppState` (its type definitions:
 * `Libraries/AppState/AppState.d.ts`). Pass `AppState` itself.
 */
export interface AppStateLike {
  /** `active`, `background`, `inactive` (iOS), `unknown`, `extension`; `null` until known. */
  currentState?: string | null
  addEventListener(type: 'change', listener: (state: 'active' | 'background' | 'inactive' | 'unknown' | 'extension') => void): { remove(): void }
}

/** The fields the helper reads of `@react-native-community/netinfo`'s `NetInfoState`. */
export interface NetInfoStateLike {
  /** `null` while unknown. */
  isConnected: boolean | null
  /** `null` while not yet checked (or when reachability checks are off). */
  isInternetReachable: boolean | null
}

/** What the helper needs of `@react-native-community/netinfo`'s default export. Pass `NetInfo` itself. */
export interface NetInfoLike {
  /** Calls `listener` with the current state soon after subscribing, then on every change; returns the unsubscribe function. */
  addEventListener(listener: (state: NetInfoStateLike) => void): () => void
}

/** Options of {@link attachAppLifecycle}. */
export interface AppLifecycleOptions {
  /** react-native's `AppState`: re-check when the app comes to the foreground. */
  appState?: AppStateLike
  /** `@react-native-community/netinfo`'s default export: re-check when the network comes back. */
  netInfo?: NetInfoLike
  /**
   * Hears the rejection of a re-check: `SessionExpiredError` (the session ended
   * while away; the manager has also emitted `signedOut`) or `RefreshFailedError`
   * (still offline; the next request tries again). Without it they are dropped:
   * the manager's events and state already tell.
   */
  onError?: (error: unknown) => void
}

/** How usable the network looks: 0 offline, 1 connected (internet not checked yet), 2 internet reachable. */
function reachability(state: NetInfoStateLike): 0 | 1 | 2 {
  if (state.isConnected !== true || state.isInternetReachable === false) return 0
  return state.isInternetReachable === true ? 2 : 1
}

/**
 * React Native lifecycle: JavaScript does not run in the background, so the
 * token may have expired while the app was away, and a refresh that failed
 * offline waits for the next request. This re-checks the session when the app
 * becomes active and when the network comes back: a token that is due is
 * refreshed at once, so the requests that follow share that one refresh; a
 * valid token is left alone. After a refresh failed for now (offline), the
 * network's return refreshes right away, ignoring the manager's cooldown.
 * Returns the function that detaches it.
 *
 * @example
 * import { AppState } from 'react-native'
 * import NetInfo from '@react-native-community/netinfo'
 * const detach = attachAppLifecycle(manager, { appState: AppState, netInfo: NetInfo })
 */
export function attachAppLifecycle(manager: TokenManager, options: AppLifecycleOptions = {}): () => void {
  if (typeof manager?.getState !== 'function' || typeof manager.getAccessToken !== 'function') {
    throw new TypeError('attachAppLifecycle(manager, options): "manager" must be the token manager from createTokenManager({ refresh })')
  }
  const { appState, netInfo, onError } = options
  if (appState !== undefined && typeof appState?.addEventListener !== 'function') {
    throw new TypeError('attachAppLifecycle(): "appState" must be react-native\'s AppState')
  }
  if (netInfo !== undefined && typeof netInfo?.addEventListener !== 'function') {
    throw new TypeError('attachAppLifecycle(): "netInfo" must be the default export of @react-native-community/netinfo')
  }

  const recheck = () => {
    const state = manager.getState()
    if (state.status === 'signedOut' || state.status === 'disposed') return
    // A refresh that failed for now is in its cooldown: the app being back (or the network) is the news it waited for.
    const check = state.status === 'signedIn' && state.error && !state.refreshing ? manager.refresh() : manager.getAccessToken()
    check.catch((error: unknown) => onError?.(error))
  }

  let lastAppState = appState?.currentState
  const appSubscription = appState?.addEventListener('change', (next) => {
    const previous = lastAppState
    lastAppState = next
    if (next === 'active' && previous !== 'active') recheck()
  })

  // NetInfo calls the listener with the current state first: that is no change.
  let lastReach: 0 | 1 | 2 | undefined
  const netUnsubscribe = netInfo?.addEventListener((state) => {
    const previous = lastReach
    lastReach = reachability(state)
    if (previous !== undefined && lastReach > previous) recheck()
  })

  let attached = true
  return () => {
    if (!attached) return
    attached = false
    appSubscription?.remove()
    netUnsubscribe?.()
  }
}
