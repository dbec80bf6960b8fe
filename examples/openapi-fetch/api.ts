// openapi-fetch on the token manager: createAuthFetch as its `fetch`. Nothing
// else: openapi-fetch does not retry, and its middleware never sees the token.
import createClient, { type Client } from 'openapi-fetch'
import type { TokenManager } from 'silent-refresh'
import { createAuthFetch } from 'silent-refresh/fetch'
import type { paths } from './schema.js'

/**
 * The app's API client. `{ data }` or `{ error }` is what the server answered
 * (a 401 that stays a 401 after the one refresh is an `{ error }`); a session
 * that cannot be refreshed throws the AuthError, as a network failure throws.
 * `options.fetch` is the fetch underneath (default: the global one; the tests pass their own).
 */
export function createApi(manager: TokenManager, apiUrl: string, options: { fetch?: typeof fetch } = {}): Client<paths> {
  return createClient<paths>({ baseUrl: apiUrl, fetch: createAuthFetch(manager, { allowedOrigins: [apiUrl], fetch: options.fetch }) })
}
