// RTK Query on the token manager: createAuthBaseQuery instead of the mutex
// recipe (fetchBaseQuery + async-mutex + a refresh call of your own).
import { configureStore } from '@reduxjs/toolkit'
import { createApi, retry, type FetchBaseQueryError } from '@reduxjs/toolkit/query'
import type { TokenManager } from 'silent-refresh'
import { createAuthBaseQuery, isAuthQueryError } from 'silent-refresh/rtk-query'

export interface Me {
  sub: string
}

/** The app's API and its store. `options.fetchFn` is the fetch underneath (default: the global one; the tests pass their own). */
export function createStore(manager: TokenManager, apiUrl: string, options: { fetchFn?: typeof fetch } = {}) {
  const baseQuery = retry(
    createAuthBaseQuery(manager, { baseUrl: apiUrl, allowedOrigins: [apiUrl], fetchFn: options.fetchFn }),
    {
      retryCondition(error, _args, { attempt }) {
        // A refresh that failed is the end of one shared refresh and its own retries: retrying it would refresh again.
        if (isAuthQueryError(error)) return false
        // A 4xx will not change by asking again (a 401 here already had its refresh and retry).
        const { status } = error as FetchBaseQueryError
        if (typeof status === 'number' && status < 500) return false
        return attempt <= 3
      },
    },
  )
  const api = createApi({
    reducerPath: 'api',
    baseQuery,
    endpoints: (build) => ({
      me: build.query<Me, number | void>({ query: (id) => `/api/me?id=${id ?? 0}` }),
      note: build.mutation<{ body: string }, string>({ query: (note) => ({ url: '/api/echo', method: 'POST', body: { note } }) }),
    }),
  })
  const store = configureStore({
    reducer: { [api.reducerPath]: api.reducer },
    middleware: (getDefault) => getDefault().concat(api.middleware),
  })
  manager.on('signedOut', ({ reason }) => {
    // Signed out here or in another tab: no data of that user stays in the store.
    // 'expired': the queries that met it keep their error (the login screen says why); signing in resets the rest.
    if (reason !== 'expired') store.dispatch(api.util.resetApiState())
  })
  return { api, store }
}
