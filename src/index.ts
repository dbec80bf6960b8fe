export { createTokenManager } from './core/manager.js'
export { AuthError, SessionExpiredError, RefreshFailedError, isAuthError, isSessionExpired } from './core/errors.js'
export { memoryStorage } from './storage/memory.js'
export { webStorage } from './storage/web.js'
export { asyncStorage, secureStorage } from './storage/async.js'
export { refreshTokenGrant, OAuthResponseError } from './grants/oauth.js'
export { fromTokenResponse } from './grants/token-response.js'

export type { AuthErrorCode } from './core/errors.js'
export type {
  TokenSet,
  RefreshFn,
  TokenStorage,
  TokenManager,
  TokenManagerOptions,
  TokenManagerEvents,
  SignOutReason,
  AccessToken,
  TokenStamp,
  ManagerState,
  UnauthorizedOutcome,
  RetryOptions,
  CrossTab,
  CrossTabHost,
  CrossTabLink,
  RequestSender,
} from './core/types.js'
export type { WebStorageLike } from './storage/web.js'
export type { AsyncStorageLike, SecureStoreLike } from './storage/async.js'
export type { RefreshTokenGrantOptions } from './grants/oauth.js'
export type { OAuthTokenResponse } from './grants/token-response.js'
