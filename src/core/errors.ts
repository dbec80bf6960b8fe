/** The stable codes of {@link AuthError}. */
export type AuthErrorCode = 'SESSION_EXPIRED' | 'REFRESH_FAILED' | 'REFRESH_TIMEOUT' | 'NOT_SIGNED_IN' | 'DISPOSED'

/**
 * Every error the manager rejects with. Match on `code`, or with {@link isAuthError},
 * which also recognises errors from another copy of the package (ESM beside CJS).
 */
export class AuthError extends Error {
  override name = 'AuthError'
  constructor(
    readonly code: AuthErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
}

/** The refresh was rejected for good: tokens are cleared, the user must sign in again. */
export class SessionExpiredError extends AuthError {
  override name = 'SessionExpiredError'
  declare readonly code: 'SESSION_EXPIRED'
  constructor(options?: { cause?: unknown }) {
    super('SESSION_EXPIRED', 'Session expired; sign in again', options)
  }
}

/** The refresh failed for now (network, 5xx, timeout): tokens are kept; a later call tries again. */
export class RefreshFailedError extends AuthError {
  override name = 'RefreshFailedError'
  declare readonly code: 'REFRESH_FAILED' | 'REFRESH_TIMEOUT'
}

const names = ['AuthError', 'SessionExpiredError', 'RefreshFailedError']

/** Whether `error` is an {@link AuthError}, from this copy of the package or another. */
export function isAuthError(error: unknown): error is AuthError {
  return error instanceof AuthError || (error instanceof Error && names.includes(error.name) && typeof (error as AuthError).code === 'string')
}

type Loose = { status?: unknown; response?: { status?: unknown; data?: { error?: unknown } }; error?: unknown; code?: unknown; cause?: unknown }

/**
 * The default test for a terminal refresh failure: the error (or its `cause`)
 * carries HTTP status 400, 401 or 403 (`status` or `response.status`), or the
 * OAuth error `invalid_grant` (`error`, `code` or `response.data.error`).
 * Anything else (network, 5xx, timeout) is transient.
 */
export function isSessionExpired(error: unknown): boolean {
  const hit = (e?: Loose) =>
    !!e && ([400, 401, 403].includes((e.status ?? e.response?.status) as number) || [e.error, e.code, e.response?.data?.error].includes('invalid_grant'))
  return hit(error as Loose) || hit((error as Loose)?.cause as Loose)
}
