// React Native: tokens in the Keychain / Keystore through expo-secure-store,
// and a refresh as soon as the app comes back from the background.
import { AppState } from 'react-native'
import * as SecureStore from 'expo-secure-store'
import { SessionExpiredError, createTokenManager, refreshTokenGrant, secureStorage } from 'silent-refresh'
import { createAuthFetch } from 'silent-refresh/fetch'

const API = 'https://api.example.com'

export const manager = createTokenManager({
  refresh: refreshTokenGrant({ url: `${API}/auth/token` }),
  // Refresh tokens are long-lived credentials: on a phone they belong in the
  // Keychain (iOS) / Keystore (Android), not in AsyncStorage, which is plain files.
  // AFTER_FIRST_UNLOCK lets a refresh that runs while the screen is locked read them.
  storage: secureStorage(SecureStore, 'session', { keychainAccessible: SecureStore.AFTER_FIRST_UNLOCK }),
})

// React Native has no page origin: name the API's origin.
export const authFetch = createAuthFetch(manager, { allowedOrigins: [API] })

/**
 * JavaScript does not run in the background, so no timer refreshes there. The
 * manager checks expiry on every request, so the first request after coming back
 * refreshes first anyway; warming up on 'active' just starts that refresh earlier,
 * and every request fired meanwhile shares it.
 */
export function refreshWhenActive(onSessionExpired: () => void): () => void {
  const subscription = AppState.addEventListener('change', (state) => {
    if (state !== 'active') return
    manager.getAccessToken().catch((error: unknown) => {
      if (error instanceof SessionExpiredError) onSessionExpired()
      // Offline (RefreshFailedError): the next request tries again.
    })
  })
  return () => subscription.remove()
}
