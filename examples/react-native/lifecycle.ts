// React Native: re-check the session when the app comes back to the foreground
// and when the network returns (see docs/integrations/react-native.md).
import NetInfo from '@react-native-community/netinfo'
import { AppState } from 'react-native'
import { SessionExpiredError } from 'silent-refresh'
import { attachAppLifecycle } from 'silent-refresh/react-native'
import { manager } from './auth.js'

/** Call once at start-up; the function it returns detaches (for tests, or a sign-out that tears the app down). */
export function watchLifecycle(onSessionExpired: () => void): () => void {
  return attachAppLifecycle(manager, {
    appState: AppState,
    netInfo: NetInfo,
    onError(error) {
      if (error instanceof SessionExpiredError) onSessionExpired()
      // RefreshFailedError: still offline; the next request (or the network's return) tries again.
    },
  })
}
