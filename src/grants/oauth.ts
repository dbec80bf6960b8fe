import type { RefreshFn } from '../core/types.js'
import { fromTokenResponse, type OAuthTokenResponse } from './token-response.js'

export interface RefreshTokenGrantOptions {
  /** The token endpoint. */
  url: string
  /** Sent as `client_id`, for public clients. */
  clientId?: string
  /** @default globalThis.fetch, looked up at call time */
  fetch?: typeof fetch
  /** `'include'` when the refresh token lives in a cookie of another origin. @default 'same-origin' */
  credentials?: RequestCredentials
}

/** What a token endpoint answered with an error: `status` and the OAuth `error` code, never a token. */
export class OAuthResponseError extends Error {
  readonly status: number
  readonly error: string | undefined
  constructor(url: string, status: number, error: string | undefined, options?: { cause?: unknown }) {
    super(`POST ${url} answered ${status}${error ? ` ${error}` : ''}`, options)
    this.name = 'OAuthResponseError'
    this.status = status
    this.error = error
  }
}

/**
 * A refresh function for any OAuth 2.0 server (RFC 6749 §6): POSTs a
 * form-encoded `grant_type=refresh_token`, takes the rotated `refresh_token`
 * (or keeps the old one when none comes back) and `expires_in`. A 400/401/403
 * or `invalid_grant` is terminal; anything else is transient.
 * With no refresh token (cookie mode) the parameter is left out and the cookie carries it.
 *
 * @example
 * createTokenManager({ refresh: refreshTokenGrant({ url: 'https://auth.example.com/oauth/token', clientId: 'spa' }) })
 */
export function refreshTokenGrant(options: RefreshTokenGrantOptions): RefreshFn {
  const { url, clientId, credentials = 'same-origin' } = options ?? ({} as RefreshTokenGrantOptions)
  if (typeof url !== 'string' || !url) throw new TypeError('refreshTokenGrant(): "url" must be a non-empty string')
  // Without a page (Node, React Native) fetch cannot resolve a relative URL: say so now, not at the first refresh.
  if (!/^\s*[a-z][a-z\d+\-.]*:/i.test(url) && typeof (globalThis as { location?: { href?: unknown } }).location?.href !== 'string') {
    throw new TypeError(`refreshTokenGrant(): "url" must be absolute here ("${url}" is relative and there is no page to resolve it against); pass e.g. "https://auth.example.com/oauth/token"`)
  }
  return async ({ refreshToken, signal }) => {
    const params: Record<string, string> = { grant_type: 'refresh_token' }
    if (refreshToken) params.refresh_token = refreshToken
    if (clientId) params.client_id = clientId
    // A string, not URLSearchParams: React Native's has no set() before 0.80, and from 0.80 a
    // URLSearchParams body reaches the server empty (then a 400: signed out at the first refresh).
    const body = Object.entries(params)
      .map(([name, value]) => `${encodeURIComponent(name)}=${encodeURIComponent(value)}`)
      .join('&')
    const response = await (options.fetch ?? fetch)(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body,
      signal,
      credentials,
    })
    let data: Record<string, unknown> | null = null
    let cause: unknown
    try {
      data = await response.json()
    } catch (error) {
      cause = error
    }
    const error = typeof data?.error === 'string' ? data.error : undefined
    if (!response.ok || !data || typeof data.access_token !== 'string' || !data.access_token) {
      throw new OAuthResponseError(url, response.status, error ?? (response.ok ? 'invalid_response' : undefined), { cause })
    }
    const tokens = fromTokenResponse(data as OAuthTokenResponse)
    // No refresh_token in the answer: the server does not rotate, the old one stays valid (RFC 6749 §6).
    return { ...tokens, refreshToken: tokens.refreshToken ?? refreshToken }
  }
}
