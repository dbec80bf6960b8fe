import type { TokenSet } from '../core/types.js'

/** An OAuth 2.0 token response (RFC 6749 §5.1), as a token endpoint or a login route sends it. */
export interface OAuthTokenResponse {
  access_token: string
  token_type?: string
  /** Seconds; some servers send it as a string. */
  expires_in?: number | string
  /** Absent in cookie mode, and on a refresh that does not rotate. */
  refresh_token?: string
  scope?: string
  [field: string]: unknown
}

/**
 * Turns an OAuth 2.0 token response (`access_token`, `expires_in`,
 * `refresh_token`, …; RFC 6749 §5.1) into the {@link TokenSet} that
 * `setTokens()` takes. `expires_in` is read as seconds from now; a response
 * without `refresh_token` gives a set without one (cookie mode). Throws a
 * `TypeError` when there is no `access_token`, naming the OAuth `error` if the
 * body is an error response; the message never holds a token.
 *
 * @example
 * const { data } = await api.post('/auth/login', { username, password }, { skipAuth: true })
 * await manager.setTokens(fromTokenResponse(data))
 */
export function fromTokenResponse(response: OAuthTokenResponse): TokenSet {
  const data = response as Partial<Record<string, unknown>> | null | undefined
  const accessToken = data?.access_token
  if (typeof accessToken !== 'string' || !accessToken) {
    // An error code is safe to show (RFC 6749 §5.2 limits its characters); anything else in the body may be a secret.
    const error = typeof data?.error === 'string' && /^[\w.-]{1,64}$/.test(data.error) ? ` (it holds the OAuth error "${data.error}")` : ''
    throw new TypeError(
      `fromTokenResponse(): expected an OAuth token response with a non-empty "access_token"${error}; ` +
        'pass the parsed JSON body (`await response.json()`, or `response.data` with axios)',
    )
  }
  const tokens: TokenSet = { accessToken }
  if (typeof data.refresh_token === 'string' && data.refresh_token) tokens.refreshToken = data.refresh_token
  // A string such as "3600" is common enough to accept; anything that is not a finite number is left out (unknown expiry).
  const expiresIn = typeof data.expires_in === 'string' && data.expires_in.trim() ? Number(data.expires_in) : data.expires_in
  if (typeof expiresIn === 'number' && Number.isFinite(expiresIn)) tokens.expiresIn = expiresIn
  return tokens
}
