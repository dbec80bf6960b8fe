// TanStack Query (v5) on the token manager: query functions call createAuthFetch
// (which reads the token when each attempt is sent, never from a closure), and
// the retry policy leaves AuthErrors alone.
import { QueryCache, QueryClient, queryOptions } from '@tanstack/react-query'
import { SessionExpiredError, isAuthError, type TokenManager } from 'silent-refresh'

/** What a query function throws for an answer that is not 2xx (a 401 after the one refresh, a 404, a 500). */
export class ApiError extends Error {
  override name = 'ApiError'
  constructor(readonly status: number) {
    super(`The API answered ${status}`)
  }
}

/** The app's QueryClient. `onSessionExpired` runs once per query that met the end of the session (show the login). */
export function createQueryClient(manager: TokenManager, onSessionExpired: () => void): QueryClient {
  const queryClient = new QueryClient({
    queryCache: new QueryCache({
      onError(error) {
        if (error instanceof SessionExpiredError) onSessionExpired()
      },
    }),
    defaultOptions: {
      queries: {
        retry(failureCount, error) {
          // An AuthError is the end of one shared refresh and its own retries: retrying it would refresh again.
          if (isAuthError(error)) return false
          // A 4xx will not change by asking again; a 401 here already had its refresh and retry.
          if (error instanceof ApiError && error.status < 500) return false
          return failureCount < 3 // TanStack's default for the rest: network errors, 5xx
        },
      },
    },
  })
  manager.on('signedOut', ({ reason }) => {
    // Signed out here or in another tab: no data of that user stays on screen.
    // 'expired': the queries that met it show their SessionExpiredError first; signIn() clears the rest.
    if (reason !== 'expired') queryClient.clear()
  })
  return queryClient
}

/** A query of the API; `authFetch` is `createAuthFetch(manager, …)`. */
export function meQuery(authFetch: typeof fetch, apiUrl: string, id = 0) {
  return queryOptions({
    queryKey: ['me', id],
    async queryFn({ signal }) {
      const response = await authFetch(`${apiUrl}/api/me?id=${id}`, { signal })
      if (!response.ok) throw new ApiError(response.status)
      return (await response.json()) as { sub: string }
    },
  })
}
