// If you must use AsyncStorage (no native module for secure storage), keep the
// refresh token out of it: an HttpOnly cookie, or a short-lived session.
import AsyncStorage from '@react-native-async-storage/async-storage'
import { asyncStorage, createTokenManager, refreshTokenGrant } from 'silent-refresh'

export const manager = createTokenManager({
  refresh: refreshTokenGrant({ url: 'https://api.example.com/auth/token' }),
  storage: asyncStorage(AsyncStorage, 'session'),
})
