import type { AccessToken, TokenManager } from '../core/types.js'
import { isAllowed, normalizeOrigins } from './internal/origin.js'
import { assertManager } from './internal/wiring.js'

export interface AuthFetchOptions {
  /** The fetch to wrap. @default globalThis.fetch, looked up at call time (so msw and polyfills apply) */
  fetch?: typeof fetch
  /** @default 'Authorization' */
  header?: string
  /** Put before the token; '' sends the bare token. @default 'Bearer' */
  scheme?: string
  /** Whether a response should refresh and retry once. @default status 401 */
  shouldRefresh?: (response: Response) => boolean | Promise<boolean>
  /** Origins that get the token beyond relative URLs (the page's origin). */
  allowedOrigins?: string[]
}

/**
 * Wraps fetch: attaches the access token, and on a 401 refreshes once (shared
 * by every request) and retries once with the same body. A second 401 comes
 * back as the Response, as fetch would give it.
 *
 * @example
 * const authFetch = createAuthFetch(manager, { allowedOrigins: ['https://api.example.com'] })
 * const res = await authFetch('https://api.example.com/me')
 */
export function createAuthFetch(manager: TokenManager, options: AuthFetchOptions = {}): typeof fetch {
  assertManager('createAuthFetch(manager, options?)', manager)
  const header = options.header ?? 'Authorization'
  const scheme = options.scheme ?? 'Bearer'
  const shouldRefresh = options.shouldRefresh ?? ((response: Response) => response.status === 401)
  const allowed = normalizeOrigins(options.allowedOrigins)
  const send = (input: RequestInfo | URL, init?: RequestInit) => (options.fetch ?? fetch)(input, init)

  return async function authFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
    const request = input instanceof Request ? input : undefined
    if (!isAllowed(String(request?.url ?? input), allowed)) return send(input, init)
    const signal = init?.signal ?? request?.signal ?? undefined
    const token = manager.peekToken() ?? (await manager.getToken({ signal }))
    if (!token) {
      const response = await send(input, init)
      // After a terminal failure, a 401 of a request that went without a token is a SessionExpiredError (DESIGN 14).
      if (await shouldRefresh(response)) await manager.tokenRejected(null, { signal })
      return response
    }
    // A Request or a stream body can be read once: keep a copy to clone for each attempt.
    const base =
      request || typeof (init?.body as ReadableStream | undefined)?.getReader == 'function'
        ? new Request(input, { ...init, duplex: 'half' } as RequestInit)
        : undefined
    const attempt = (token: AccessToken) => {
      const headers = new Headers(base ? base.headers : init?.headers)
      headers.set(header, scheme ? `${scheme} ${token.value}` : token.value)
      return send(base ? new Request(base.clone(), { headers }) : input, base ? undefined : { ...init, headers })
    }
    const response = await attempt(token)
    if (!(await shouldRefresh(response))) return response
    const next = await manager.tokenRejected(token, { signal })
    // Its session ended: handed back as fetch gave it, never retried under another session.
    if (!next) return response
    // Free the connection of the answer that is thrown away.
    response.body?.cancel().catch(() => {})
    return attempt(next)
  } as typeof fetch
}
