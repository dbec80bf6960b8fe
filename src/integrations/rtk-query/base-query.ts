import { fetchBaseQuery, type BaseQueryFn, type FetchArgs, type FetchBaseQueryArgs, type FetchBaseQueryError, type FetchBaseQueryMeta } from '@reduxjs/toolkit/query'
import { createAuthFetch, type AuthFetchOptions } from '../../adapters/fetch.js'
import { isAuthError, type AuthError, type AuthErrorCode } from '../../core/errors.js'
import type { TokenManager } from '../../core/types.js'

/**
 * The `{ error }` of a request whose session could not be refreshed: the
 * `AuthError` as plain data (RTK Query keeps errors in the Redux state, which
 * must stay serializable), in `fetchBaseQuery`'s own `CUSTOM_ERROR` shape.
 */
export interface AuthQueryError {
  status: 'CUSTOM_ERROR'
  /** The AuthError's message (never a token). */
  error: string
  data: {
    /** `SessionExpiredError`: sign in again. `RefreshFailedError`: offline or the server failed; tokens kept. */
    name: 'AuthError' | 'SessionExpiredError' | 'RefreshFailedError'
    code: AuthErrorCode
  }
}

/** Options of {@link createAuthBaseQuery}: `fetchBaseQuery`'s, and those of `createAuthFetch`. */
export type AuthBaseQueryOptions = FetchBaseQueryArgs & Pick<AuthFetchOptions, 'header' | 'scheme' | 'shouldRefresh' | 'allowedOrigins'>

/** What {@link createAuthBaseQuery} returns: `fetchBaseQuery`'s signature, its errors plus {@link AuthQueryError}. */
export type AuthBaseQuery = BaseQueryFn<string | FetchArgs, unknown, FetchBaseQueryError, {}, FetchBaseQueryMeta> // eslint-disable-line @typescript-eslint/no-empty-object-type

/**
 * `fetchBaseQuery` on the token manager, instead of the mutex recipe: the token
 * is attached to every request, a burst of 401s makes one refresh, and a
 * request is retried once. A refresh that fails comes back as
 * `{ error: AuthQueryError }` (test it with {@link isAuthQueryError}), not as
 * `FETCH_ERROR` with the error turned into a string. Set no `Authorization`
 * in `prepareHeaders`.
 *
 * @example
 * const api = createApi({
 *   baseQuery: createAuthBaseQuery(manager, { baseUrl: '/api' }),
 *   endpoints: (build) => ({ me: build.query<User, void>({ query: () => '/me' }) }),
 * })
 */
export function createAuthBaseQuery(manager: TokenManager, options: AuthBaseQueryOptions = {}): AuthBaseQuery {
  const { header, scheme, shouldRefresh, allowedOrigins, fetchFn, ...fetchOptions } = options
  // fetchBaseQuery calls fetchFn with a Request, and authFetch passes that (or a copy) on: never a URL.
  const authFetch = createAuthFetch(manager, { fetch: fetchFn as typeof fetch | undefined, header, scheme, shouldRefresh, allowedOrigins })

  return async (args, api, extraOptions) => {
    // fetchBaseQuery turns whatever fetchFn throws into a string: keep this call's AuthError aside.
    let failure: AuthError | undefined
    const baseQuery = fetchBaseQuery({
      ...fetchOptions,
      fetchFn: async (input, init) => {
        try {
          return await authFetch(input, init)
        } catch (error) {
          if (isAuthError(error)) failure = error
          throw error
        }
      },
    })
    const result = await baseQuery(args, api, extraOptions)
    if (failure && result.error) return { error: toQueryError(failure), meta: result.meta }
    return result
  }
}

function toQueryError(error: AuthError): AuthQueryError {
  const name = error.name === 'SessionExpiredError' || error.name === 'RefreshFailedError' ? error.name : 'AuthError'
  return { status: 'CUSTOM_ERROR', error: error.message, data: { name, code: error.code } }
}

/**
 * Whether an RTK Query `error` is an {@link AuthQueryError}, of `code` if given.
 *
 * @example
 * if (isAuthQueryError(error, 'SESSION_EXPIRED')) return <Login />
 * // with retry(): never retry them
 * retry(baseQuery, { retryCondition: (error, _args, { attempt }) => !isAuthQueryError(error) && attempt <= 3 })
 */
export function isAuthQueryError(error: unknown, code?: AuthErrorCode): error is AuthQueryError {
  const value = error as Partial<AuthQueryError> | null | undefined
  return (
    value?.status === 'CUSTOM_ERROR' &&
    typeof value.data?.code === 'string' &&
    ['AuthError', 'SessionExpiredError', 'RefreshFailedError'].includes(value.data.name) &&
    (code === undefined || value.data.code === code)
  )
}
