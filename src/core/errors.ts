/**
 * The stable codes of {@link AuthError}. `BODY_NOT_REPLAYABLE` and
 * `REDIRECT_BLOCKED` come from the adapters (see their docs), the rest from the manager.
 */
export type AuthErrorCode =
  | 'SESSION_EXPIRED'
  | 'REFRESH_FAILED'
  | 'REFRESH_TIMEOUT'
  | 'NOT_SIGNED_IN'
  | 'DISPOSED'
  | 'BODY_NOT_REPLAYABLE'
  | 'REDIRECT_BLOCKED'

/**
 * Each class's brand, in the global symbol registry so that every copy of the
 * package (the ESM and the CJS build side by side, two bundles on a page) uses
 * the same key, and `instanceof` answers for errors made by another copy.
 */
const AUTH: unique symbol = Symbol.for('silent-refresh.AuthError')
const EXPIRED: unique symbol = Symbol.for('silent-refresh.SessionExpiredError')
const FAILED: unique symbol = Symbol.for('silent-refresh.RefreshFailedError')

/** What a cause may keep: enough to tell what failed (status, codes), nothing of the request. */
// isAxiosError: axios.isAxiosError() reads this own flag.
const KEPT = ['name', 'message', 'stack', 'code', 'status', 'statusCode', 'error', 'error_description', 'errno', 'syscall', 'isAxiosError']

/**
 * `cause` without what a logger must not print. An HTTP client's error carries
 * the request that failed (axios `config.data`, ky `options.body`, ofetch
 * `options`), and for a refresh that request holds the refresh token:
 * `console.error(error)` or an error reporter walking the cause chain would
 * print it. A cause with anything beyond {@link KEPT} is replaced by a copy of
 * it (same prototype, so `instanceof` and `axios.isAxiosError` still hold) with
 * only those fields, and `response` reduced to `status`, `statusText` and, for
 * an error status, `data` (an error body carries no token; a 2xx one may).
 * Causes of causes likewise. A cause with nothing to drop is kept as it is.
 */
function redact(cause: unknown, depth = 0): unknown {
  if (typeof cause !== 'object' || cause === null || depth > 4) return cause
  const source = cause as Record<PropertyKey, unknown>
  const inner = 'cause' in source ? redact(source.cause, depth + 1) : undefined
  const response = reduce(source.response)
  const extra = Reflect.ownKeys(source).some((key) => key !== 'cause' && key !== 'response' && !KEPT.includes(key as string))
  if (!extra && inner === source.cause && response === source.response) return cause
  const copy = Object.create(Object.getPrototypeOf(source) as object | null) as Record<PropertyKey, unknown>
  for (const key of [...KEPT, 'cause', 'response']) {
    const own = Object.getOwnPropertyDescriptor(source, key)
    // Read the value (V8's `stack` may be an accessor bound to the original); keep enumerability.
    const value = key === 'cause' ? inner : key === 'response' ? response : source[key]
    if (own) Object.defineProperty(copy, key, { value, enumerable: own.enumerable, writable: true, configurable: true })
  }
  return copy
}

/** A response with only `status`, `statusText` and, for an error status, `data`; itself when it has no more. */
function reduce(response: unknown): unknown {
  if (typeof response !== 'object' || response === null) return response
  const { status, statusText, data } = response as { status?: unknown; statusText?: unknown; data?: unknown }
  const error = typeof status === 'number' && status >= 400
  const extra = Reflect.ownKeys(response).some((key) => !(key === 'status' || key === 'statusText' || (key === 'data' && error)))
  if (!extra) return response
  return error ? { status, statusText, data } : { status, statusText }
}

/**
 * Every error the manager and the adapters reject with. Match on `code`, or
 * with `instanceof`, which also holds for errors made by another copy of the
 * package (ESM beside CJS, two bundles); {@link isAuthError} does the same.
 *
 * `cause` is the original error, minus what a logger must not print: an HTTP
 * client's error that carries its request (a refresh token in `config.data`) is
 * replaced by a copy with its name, message, stack, codes and status only.
 */
export class AuthError extends Error {
  override name = 'AuthError'
  constructor(
    readonly code: AuthErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options && 'cause' in options ? { cause: redact(options.cause) } : undefined)
  }

  /** The brand another copy's `instanceof` looks for. */
  get [AUTH](): boolean {
    return true
  }

  /** The brand `instanceof` looks for; a subclass of an application's own has none. */
  protected static readonly brand: symbol | undefined = AUTH

  /** `instanceof` by prototype, or by the brand of another copy of the package. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (Function.prototype[Symbol.hasInstance].call(this, value)) return true
    // Own, not inherited: `x instanceof class MyError extends AuthError {}` looks at the prototype only.
    const key = Object.prototype.hasOwnProperty.call(this, 'brand') ? this.brand : undefined
    return !!key && typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[key] === true
  }
}

/** The refresh was rejected for good: tokens are cleared, the user must sign in again. */
export class SessionExpiredError extends AuthError {
  override name = 'SessionExpiredError'
  declare readonly code: 'SESSION_EXPIRED'
  protected static override readonly brand: symbol | undefined = EXPIRED
  constructor(options?: { cause?: unknown }) {
    super('SESSION_EXPIRED', 'Session expired; sign in again', options)
  }

  get [EXPIRED](): boolean {
    return true
  }
}

/** The refresh failed for now (network, 5xx, timeout): tokens are kept; a later call tries again. */
export class RefreshFailedError extends AuthError {
  override name = 'RefreshFailedError'
  declare readonly code: 'REFRESH_FAILED' | 'REFRESH_TIMEOUT'
  protected static override readonly brand: symbol | undefined = FAILED

  get [FAILED](): boolean {
    return true
  }
}

const names = ['AuthError', 'SessionExpiredError', 'RefreshFailedError']

/**
 * Whether `error` is an {@link AuthError}, from this copy of the package or
 * another (by its brand, or for copies older than the brand by name and code).
 */
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
