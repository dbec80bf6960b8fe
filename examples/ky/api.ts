// ky on the token manager: createAuthFetch as ky's `fetch`, and a retry policy
// that leaves AuthErrors alone. Everything else is ky as usual.
import ky, { type KyInstance } from 'ky'
import { isAuthError, type TokenManager } from 'silent-refresh'
import { createAuthFetch } from 'silent-refresh/fetch'

/**
 * The app's API client. `options.fetch` is the fetch underneath (default: the
 * global one; the tests pass their own).
 */
export function createApi(manager: TokenManager, apiUrl: string, options: { fetch?: typeof fetch } = {}): KyInstance {
  return ky.create({
    prefixUrl: apiUrl,
    // Attaches the token at send time, refreshes once for a burst of 401s, retries each request once.
    fetch: createAuthFetch(manager, { allowedOrigins: [apiUrl], fetch: options.fetch }),
    retry: {
      // An AuthError is the end of one shared refresh and its own retries: ky retrying it would refresh again.
      // undefined: ky's usual rules for everything else (network errors, 408, 429, 5xx on idempotent methods).
      shouldRetry: ({ error }) => (isAuthError(error) ? false : undefined),
    },
  })
}
