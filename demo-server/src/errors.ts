/**
 * Every error code the demo server answers with, in the `error` field of a
 * JSON body `{ error, error_description }` (the RFC 6749 §5.2 shape, used for
 * every error so clients parse one format).
 */
export type ErrorCode =
  /** 400: malformed request: schema violation, bad JSON, missing parameter (RFC 6749 §5.2, RFC 6750 §3.1). */
  | 'invalid_request'
  /** 400: refresh token unknown, malformed, expired, revoked or reused — deliberately one answer (RFC 6749 §5.2). */
  | 'invalid_grant'
  /** 400: `grant_type` is not `refresh_token` (RFC 6749 §5.2). */
  | 'unsupported_grant_type'
  /** 400 at the token endpoints, 401 at the API: the DPoP proof is missing (DPOP=required) or invalid (RFC 9449 §5, §7.1). */
  | 'invalid_dpop_proof'
  /** 400 at the token endpoints, 401 at the API: the DPoP proof lacks the current server nonce, sent in `DPoP-Nonce` (RFC 9449 §8, §9). */
  | 'use_dpop_nonce'
  /** 401: login with an unknown user or a wrong password — one answer for both. */
  | 'invalid_credentials'
  /** 401: no bearer token on a protected route (RFC 6750 §3.1: no error code in `WWW-Authenticate`). */
  | 'unauthorized'
  /** 401: bearer token expired, badly signed, of a revoked session, … (RFC 6750 §3.1). */
  | 'invalid_token'
  /** 403: cookie-mode request failed the CSRF checks (Origin, Sec-Fetch-Site, custom header). */
  | 'csrf_rejected'
  /** 404: no such route. */
  | 'not_found'
  /** 408: the request head or body did not arrive in time (a stalled or trickling client). */
  | 'request_timeout'
  /** 413: body larger than the limit. */
  | 'payload_too_large'
  /** 415: body media type not accepted by this route. */
  | 'unsupported_media_type'
  /** 429: rate limit hit; see `Retry-After`. */
  | 'rate_limited'
  /** 503: the store (database) cannot answer right now; no token was issued. `Retry-After` says when to try again. */
  | 'temporarily_unavailable'
  /** 500: a bug; details only in the server log. */
  | 'server_error'

/** Every {@link ErrorCode}, for tests that check a body's `error` is a documented one. */
export const ERROR_CODES = [
  'invalid_request',
  'invalid_grant',
  'unsupported_grant_type',
  'invalid_dpop_proof',
  'use_dpop_nonce',
  'invalid_credentials',
  'unauthorized',
  'invalid_token',
  'csrf_rejected',
  'not_found',
  'request_timeout',
  'payload_too_large',
  'unsupported_media_type',
  'rate_limited',
  'temporarily_unavailable',
  'server_error',
] as const satisfies readonly ErrorCode[]

/** An error that becomes a response as is: status, code, description and extra headers. */
export class HttpError extends Error {
  override name = 'HttpError'
  constructor(
    readonly statusCode: number,
    readonly code: ErrorCode,
    readonly description: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(`${code}: ${description}`)
  }
}

/** Body of every error response. */
export function errorBody(code: ErrorCode, description: string): { error: ErrorCode; error_description: string } {
  return { error: code, error_description: description }
}
