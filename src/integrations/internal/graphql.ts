/** A GraphQL error as the clients hand it over: only what the auth check reads. */
export interface GraphQLErrorLike {
  readonly message?: string
  readonly extensions?: { readonly [key: string]: unknown } | null
}

/**
 * What an answer looked like, for `shouldRefresh`: its HTTP status (when it
 * came over HTTP) and its GraphQL errors (none for a body that was not GraphQL).
 */
export interface GraphQLAnswer {
  /** The HTTP status; undefined when there was no HTTP response (a network error, WebSocket). */
  status: number | undefined
  errors: readonly GraphQLErrorLike[]
}

/**
 * The default `shouldRefresh` of the GraphQL entries: HTTP 401, or a GraphQL
 * error with `extensions.code` `UNAUTHENTICATED` (Apollo Server, GraphQL Yoga):
 * the form most servers answer an expired token with inside a 200.
 */
export function isUnauthenticated(answer: GraphQLAnswer): boolean {
  return answer.status === 401 || answer.errors.some((error) => error?.extensions?.code === 'UNAUTHENTICATED')
}

/** The header value: `Bearer <token>`, or the bare token when `scheme` is ''. */
export function credentials(scheme: string, token: string): string {
  return scheme ? `${scheme} ${token}` : token
}
