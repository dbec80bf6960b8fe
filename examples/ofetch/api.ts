// ofetch on the token manager: createAuthFetch as ofetch's `fetch`, and an
// onRequestError hook that lets an AuthError through as it is.
import { ofetch, type $Fetch } from 'ofetch'
import { isAuthError, type TokenManager } from 'silent-refresh'
import { createAuthFetch } from 'silent-refresh/fetch'

/**
 * The app's API client. `options.fetch` is the fetch underneath (default: the
 * global one; the tests pass their own).
 */
export function createApi(manager: TokenManager, apiUrl: string, options: { fetch?: typeof fetch } = {}): $Fetch {
  return ofetch.create(
    {
      baseURL: apiUrl,
      onRequestError({ error }) {
        // ofetch would retry a failed fetch as if the server had answered 500 (which refreshes again),
        // then wrap it in a FetchError. An AuthError is the end of one shared refresh: rethrow it as it is.
        if (isAuthError(error)) throw error
      },
    },
    // Attaches the token at send time, refreshes once for a burst of 401s, retries each request once.
    { fetch: createAuthFetch(manager, { allowedOrigins: [apiUrl], fetch: options.fetch }) },
  )
}
