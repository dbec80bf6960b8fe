/**
 * "silent-refresh/apollo": an Apollo Client link (Apollo Client 3.14+ and 4).
 *
 * The link attaches the token to each operation and reads each answer: an HTTP
 * 401, or a GraphQL error `UNAUTHENTICATED` inside a 200, goes to
 * `manager.tokenRejected()` with the stamp of the token the operation was sent
 * with, so a burst of them makes one refresh, and a late one none (DESIGN 2, 15).
 * The operation is then sent again once, through the rest of the chain.
 */
import { ApolloLink, Observable } from '@apollo/client/core'
import { isAllowed, normalizeOrigins } from '../../adapters/internal/origin.js'
import { assertManager, assertUnsigned } from '../../adapters/internal/wiring.js'
import type { AccessToken, TokenManager } from '../../core/types.js'
import { credentials, isUnauthenticated, type GraphQLAnswer } from '../internal/graphql.js'

export interface AuthLinkOptions {
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
  /**
   * Origins that get the token when an operation names its own `context.uri`.
   * Operations without one go to your HttpLink's `uri`, which you chose when you
   * put this link in front of it; relative URIs are always allowed.
   */
  allowedOrigins?: string[]
}

type Operation = Parameters<ApolloLink['request']>[0]
type Forward = Parameters<ApolloLink['request']>[1]
type Result = { errors?: GraphQLAnswer['errors'] }

/** What the link remembers of an operation, for when the client sends that same operation again (RetryLink, an ErrorLink's `forward`). */
interface Sent {
  /** The session of its first send (null: sent without a token). It never goes out under another. */
  session: string | null
  /** The token generation it went out with last (-1: none). */
  generation: number
  /** The auth error this link failed it with: sending it again does not refresh again. */
  error?: unknown
}

/**
 * An Apollo link that attaches the access token and, when the server refuses
 * it (HTTP 401, or `UNAUTHENTICATED` in the GraphQL errors), refreshes once for
 * every operation and sends each again once. A refresh refused for good reaches
 * your code as a `SessionExpiredError` (Apollo Client 4: `error`; 3:
 * `error.networkError`). Put it before the link that sends, after a `RetryLink`.
 * Per operation, `context: { skipAuth: true }` sends no token and never refreshes.
 *
 * @example
 * const client = new ApolloClient({
 *   cache: new InMemoryCache(),
 *   link: ApolloLink.from([createAuthLink(manager), new HttpLink({ uri: '/graphql' })]),
 * })
 */
export function createAuthLink(manager: TokenManager, options: AuthLinkOptions = {}): ApolloLink {
  assertManager('createAuthLink(manager, options?)', manager)
  assertUnsigned('createAuthLink(manager, options?)', manager)
  const header = options.header ?? 'Authorization'
  const scheme = options.scheme ?? 'Bearer'
  const shouldRefresh = options.shouldRefresh ?? isUnauthenticated
  const allowed = normalizeOrigins(options.allowedOrigins)
  const sent = new WeakMap<Operation, Sent>()

  const withToken = (headers: Record<string, string> | undefined, token: AccessToken | null) => {
    const next: Record<string, string> = {}
    for (const [name, value] of Object.entries(headers ?? {})) {
      // Drop the token of an earlier attempt (or of the app) whatever its case.
      if (name.toLowerCase() !== header.toLowerCase()) next[name] = value
    }
    if (token) next[header] = credentials(scheme, token.value)
    return next
  }

  return new ApolloLink((operation: Operation, forward: Forward) => {
    const { uri, skipAuth } = operation.getContext() as { uri?: unknown; skipAuth?: boolean }
    const target = typeof uri === 'function' ? (uri as (operation: Operation) => unknown)(operation) : uri
    if (skipAuth || (typeof target === 'string' && !isAllowed(target, allowed))) return forward(operation)

    return new Observable<Result>((observer) => {
      const controller = new AbortController()
      const signal = controller.signal
      let inner: { unsubscribe(): void } | undefined
      const earlier = sent.get(operation)

      const fail = (error: unknown) => {
        if (signal.aborted) return
        const state = manager.getState()
        const record = sent.get(operation) ?? { session: state.status === 'signedIn' ? state.session : null, generation: -1 }
        sent.set(operation, { ...record, error })
        observer.error(error)
      }

      /** The server refused `token`: send again with the token the manager gives, or `handBack()` the answer as it came. */
      const refused = (token: AccessToken | null, handBack: () => void) => {
        manager.tokenRejected(token, { signal }).then((next) => {
          if (signal.aborted) return
          if (next) send(next, true)
          else handBack() // its session ended: never retried under another
        }, fail)
      }

      const send = (token: AccessToken | null, last: boolean) => {
        sent.set(operation, { session: sent.get(operation)?.session ?? token?.session ?? null, generation: token?.generation ?? -1 })
        // `response` is HttpLink's; cleared so an answer is never judged by an earlier attempt's status.
        operation.setContext(({ headers }: { headers?: Record<string, string> }) => ({ headers: withToken(headers, token), response: undefined }))
        inner?.unsubscribe()
        let delivered = false
        let handedOver = false
        inner = (forward(operation) as unknown as Observable<Result>).subscribe({
          next(result) {
            const status = (operation.getContext() as { response?: { status?: number } }).response?.status
            if (!delivered && !last && shouldRefresh({ status, errors: result.errors ?? [] })) {
              handedOver = true
              refused(token, () => {
                observer.next(result)
                observer.complete()
              })
              return
            }
            delivered = true
            observer.next(result)
          },
          error(error: unknown) {
            if (handedOver) return
            const status = (error as { statusCode?: unknown } | null)?.statusCode
            if (!delivered && !last && shouldRefresh({ status: typeof status === 'number' ? status : undefined, errors: [] })) {
              handedOver = true
              refused(token, () => observer.error(error))
              return
            }
            observer.error(error)
          },
          complete() {
            if (!handedOver) observer.complete()
          },
        })
      }

      /** Sends with the token of the operation's own session, or with none. */
      const start = (token: AccessToken | null) => {
        if (signal.aborted) return
        send(earlier && token && token.session !== earlier.session ? null : token, false)
      }

      if (earlier?.error) {
        // Sent again by the client's own retry after this link failed it: with a newer token of
        // its session (another request refreshed meanwhile), or the same error at once.
        const token = manager.peekToken()
        if (token && token.session === earlier.session && token.generation > earlier.generation) send(token, false)
        else observer.error(earlier.error)
      } else {
        const token = manager.peekToken() // the fast path: no promise when a valid token is at hand
        if (token !== undefined) start(token)
        else manager.getToken({ signal }).then(start, fail)
      }

      return () => {
        controller.abort()
        inner?.unsubscribe()
      }
    }) as unknown as ReturnType<Forward>
  })
}

export type { GraphQLAnswer, GraphQLErrorLike } from '../internal/graphql.js'
