// "silent-refresh/react-native": re-checks the session when the app comes back
// and when the network returns. It imports nothing of React Native: pass
// AppState and NetInfo in.
export { attachAppLifecycle } from './lifecycle.js'

export type { AppLifecycleOptions, AppStateLike, NetInfoLike, NetInfoStateLike } from './lifecycle.js'
