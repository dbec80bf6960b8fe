/**
 * "silent-refresh/urql": the configuration of urql's own `authExchange`
 * (`@urql/exchange-auth`), built on the manager.
 *
 * urql keeps its queueing: operations that meet an auth error, or that would go
 * out with an expired token, wait in the exchange's queue for one
 * `refreshAuth()`, and are sent again once. What this adds is the stale-401
 * rule urql lacks (a late 401 used to start a second refresh): each operation
 * carries the stamp of the token it was sent with, and `refreshAuth()` hands
 * the stamp of the answer that started it to `manager.tokenRejected()`.
 */
import { makeOperation, type CombinedError, type Operation } from '@urql/core'
import type { AuthConfig, AuthUtilities } from '@urql/exchange-auth'
import { isAllowed, normalizeOrigins } from '../../adapters/internal/origin.js'
import { assertManager, assertUnsigned } from '../../adapters/internal/wiring.js'
import type { AccessToken, TokenManager, TokenStamp } from '../../core/types.js'
import { credentials, isUnauthenticated, type GraphQLAnswer } from '../internal/graphql.js'

export interface UrqlAuthOptions {
  /** @default 'Authorization' */
  header?: string
  /** Put before the token; '' sends the bare token. @default 'Bearer' */
  scheme?: string
  /**
   * Whether an answer means "this token was refused": refresh (once for every
   * operation) and send the operation again, once.
   * @default HTTP status 401, or a GraphQL error with `extensions.code` 'UNAUTHENTICATED'
   */
  shouldRefresh?: (answer: GraphQLAnswer) => boolean
  /** Origins that get the token beyond relative URLs (the page's origin); judged on each operation's `url`. */
  allowedOrigins?: string[]
}

/** Where an operation keeps the stamp (session, generation) of the token it was sent with; never the token. */
const STAMP = 'silentRefreshStamp'

type Stamped = Operation & { context: { [STAMP]?: TokenStamp | null; skipAuth?: boolean } }

/** Why `refreshAuth()` runs: urql calls it right after `willAuthError` or `didAuthError` said yes. */
type Trigger = { kind: 'wait' } | { kind: 'refused'; stamp: TokenStamp | null }

/**
 * The `init` function for urql's `authExchange`: the token on every operation,
 * one refresh for a burst of auth errors (HTTP 401, or `UNAUTHENTICATED` in the
 * GraphQL errors), none for a late one, each operation sent again once. A
 * refresh refused for good reaches your code as a `CombinedError` whose
 * `networkError` is the `SessionExpiredError`. Per operation,
 * `context: { skipAuth: true }` sends no token and never refreshes.
 *
 * @example
 * const client = new Client({
 *   url: 'https://api.example.com/graphql',
 *   exchanges: [cacheExchange, authExchange(createAuthConfig(manager, { allowedOrigins: ['https://api.example.com'] })), fetchExchange],
 * })
 */
export function createAuthConfig(manager: TokenManager, options: UrqlAuthOptions = {}): (utilities: AuthUtilities) => Promise<AuthConfig> {
  assertManager('createAuthConfig(manager, options?)', manager)
  assertUnsigned('createAuthConfig(manager, options?)', manager)
  const header = options.header ?? 'Authorization'
  const scheme = options.scheme ?? 'Bearer'
  const shouldRefresh = options.shouldRefresh ?? isUnauthenticated
  const allowed = normalizeOrigins(options.allowedOrigins)

  /** Whether `token` is newer than the one `stamp` names: another session, or a later generation. */
  const newer = (token: AccessToken | null | undefined, stamp: TokenStamp | null) =>
    !!token && (!stamp || token.session !== stamp.session || token.generation > stamp.generation)

  const applies = (operation: Stamped) => !operation.context.skipAuth && isAllowed(operation.context.url, allowed)

  /** The operation with `token` in its headers (or none), and the stamp it goes out with. */
  const withToken = (operation: Stamped, token: AccessToken | null, fetch?: typeof globalThis.fetch): Operation => {
    const { fetchOptions } = operation.context
    const init = (typeof fetchOptions === 'function' ? fetchOptions() : fetchOptions) ?? {}
    const headers = new Headers(init.headers)
    headers.delete(header) // an earlier attempt's token, or one of the app's
    if (token) headers.set(header, credentials(scheme, token.value))
    const context = { ...operation.context, fetchOptions: { ...init, headers: Object.fromEntries(headers) }, [STAMP]: token && { session: token.session, generation: token.generation } }
    return makeOperation(operation.kind, operation, fetch ? { ...context, fetch } : context)
  }

  return async () => {
    let trigger: Trigger = { kind: 'wait' }
    /** The last refresh this exchange ran failed: with the error, and the token it was for (null: none). */
    let failed: { stamp: TokenStamp | null; error: unknown } | undefined

    return {
      addAuthToOperation(operation: Stamped) {
        if (!applies(operation)) return operation
        const sent = operation.context[STAMP] // undefined: its first send
        const token = manager.peekToken()
        if (failed && sent !== undefined && !newer(token, failed.stamp)) {
          // Sent again (urql's queue, a retryExchange in front) after the refresh failed, with no newer
          // token: the same error at once, not the refused token again, nor another refresh per retry.
          const { error } = failed
          return withToken(operation, null, () => Promise.reject(error))
        }
        if (token !== undefined) {
          // An operation sent again keeps its session: under another (a new login), it goes without a token.
          return withToken(operation, token && sent !== undefined && token.session !== sent?.session ? null : token)
        }
        // No token at once for an operation urql sends again without asking willAuthError (after
        // refreshAuth): it cannot wait here, so its fetch does.
        const fetchOf = operation.context.fetch
        return withToken(operation, null, async (input, init) => {
          const next = await manager.getToken({ signal: init?.signal ?? undefined })
          const headers = new Headers(init?.headers)
          if (next && (sent === undefined || next.session === sent?.session)) headers.set(header, credentials(scheme, next.value))
          return (fetchOf ?? fetch)(input, { ...init, headers })
        })
      },

      willAuthError(operation: Stamped) {
        // Wait in urql's queue while the token must be refreshed (or loaded) first.
        if (!applies(operation) || manager.peekToken() !== undefined) return false
        trigger = { kind: 'wait' }
        return true
      },

      didAuthError(error: CombinedError, operation: Stamped) {
        if (!applies(operation) || !(STAMP in operation.context)) return false
        const status = (error.response as { status?: unknown } | undefined)?.status
        if (!shouldRefresh({ status: typeof status === 'number' ? status : undefined, errors: error.graphQLErrors })) return false
        const stamp = operation.context[STAMP] ?? null
        if (!stamp) {
          // Sent without a token: nothing to refresh, unless the session ended for good, which
          // tokenRejected(null) turns into the SessionExpiredError the app should see.
          const state = manager.getState()
          if (state.status !== 'signedOut' || state.reason !== 'expired') return false
        }
        trigger = { kind: 'refused', stamp }
        return true
      },

      async refreshAuth() {
        const cause = trigger
        trigger = { kind: 'wait' }
        try {
          if (cause.kind === 'refused') await manager.tokenRejected(cause.stamp)
          else await manager.getToken()
          failed = undefined
        } catch (error) {
          failed = { stamp: cause.kind === 'refused' ? cause.stamp : null, error }
          throw error // urql hands it to every queued operation as CombinedError.networkError
        }
      },
    }
  }
}

export type { GraphQLAnswer, GraphQLErrorLike } from '../internal/graphql.js'
