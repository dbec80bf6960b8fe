// "silent-refresh/react": the session's state for React components. The only
// entry that imports react (an optional peer dependency).
export { SessionProvider, useSession, useTokenManager } from './session.js'

export type { SessionState, SessionProviderProps } from './session.js'
