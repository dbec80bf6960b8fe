// Just enough of the React Native modules for `npm run typecheck` in this
// repository, which does not install them. In an app, the real packages'
// types apply and this file is not needed.
declare module 'react-native' {
  type AppStateStatus = 'active' | 'background' | 'inactive' | 'unknown' | 'extension'
  export const AppState: {
    addEventListener(type: 'change', listener: (state: AppStateStatus) => void): { remove(): void }
  }
}

declare module 'expo-secure-store' {
  export interface SecureStoreOptions {
    keychainService?: string
    keychainAccessible?: number
    requireAuthentication?: boolean
  }
  export const AFTER_FIRST_UNLOCK: number
  export const WHEN_UNLOCKED: number
  export function getItemAsync(key: string, options?: SecureStoreOptions): Promise<string | null>
  export function setItemAsync(key: string, value: string, options?: SecureStoreOptions): Promise<void>
  export function deleteItemAsync(key: string, options?: SecureStoreOptions): Promise<void>
}

declare module '@react-native-async-storage/async-storage' {
  const AsyncStorage: {
    getItem(key: string): Promise<string | null>
    setItem(key: string, value: string): Promise<void>
    removeItem(key: string): Promise<void>
  }
  export default AsyncStorage
}

declare module '@react-native-community/netinfo' {
  interface NetInfoState {
    isConnected: boolean | null
    isInternetReachable: boolean | null
  }
  const NetInfo: {
    addEventListener(listener: (state: NetInfoState) => void): () => void
  }
  export default NetInfo
}
