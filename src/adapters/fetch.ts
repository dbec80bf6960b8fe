import { AuthError } from '../core/errors.js'
import type { AccessToken, TokenManager } from '../core/types.js'
import { bodyKind, isRedirect, notReplayable, requestLike } from './internal/http.js'
import { createOriginCheck, originOf } from './internal/origin.js'
import { assertManager } from './internal/wiring.js'

export interface AuthFetchOptions {
  /** The fetch to wrap. @default globalThis.fetch, looked up at call time (so msw and polyfills apply) */
  fetch?: typeof fetch
  /** @default 'Authorization' */
  header?: string
  /** Put before the token; '' sends the bare token. @default 'Bearer' */
  scheme?: string
  /**
   * Whether a response should refresh and retry once (the same stale-401 rule as
   * a 401). May be async, and may read the body: it gets a clone, so the caller
   * still gets an unread body. A GraphQL server's 200 with
   * `errors[].extensions.code === 'UNAUTHENTICATED'` is the typical case.
   * @default status 401
   */
  shouldRefresh?: (response: Response) => boolean | Promise<boolean>
  /** Origins that get the token beyond relative URLs (the page's origin). */
  allowedOrigins?: string[]
}

/** What the redirect rules of the Fetch standard allow a redirect to carry. */
const MAX_REDIRECTS = 20
const CROSS_ORIGIN_DROPPED = ['authorization', 'cookie', 'proxy-authorization']
const BODY_HEADERS = ['content-type', 'content-length', 'content-encoding', 'content-language', 'content-location']

type Pairs = [string, string][]

/** A Headers object of any implementation, a record or pairs, as pairs. */
function pairsOf(headers: unknown): Pairs {
  const pairs: Pairs = []
  if (!headers) return pairs
  if (Array.isArray(headers)) return headers as Pairs
  if (typeof (headers as Headers).forEach === 'function') (headers as Headers).forEach((value, name) => pairs.push([name, value]))
  else for (const name of Object.keys(headers)) pairs.push([name, String((headers as Record<string, unknown>)[name])])
  return pairs
}

const page = () => (globalThis as { location?: { href?: unknown } }).location?.href !== undefined
const ignore = () => {}

/** Drops a response body nobody will read, freeing its connection: a web stream, or node-fetch's Node stream. */
function discard(response: Response): void {
  const body = response.body as (ReadableStream & { destroy?: never }) | { destroy(): void } | null
  if (body && 'cancel' in body && typeof body.cancel === 'function') body.cancel().catch(ignore)
  else if (body && typeof body.destroy === 'function') body.destroy()
}

/**
 * Wraps fetch: attaches the access token, and on a 401 refreshes once (shared
 * by every request) and retries once with the same body. A second 401 comes
 * back as the Response, as fetch would give it.
 *
 * The token goes only to relative URLs (the page's origin) and
 * `allowedOrigins`, judged on the URL actually sent: a `Request` of any fetch
 * implementation or realm by its `url`. Redirects are followed by the adapter
 * (`redirect: 'manual'`) wherever the runtime would carry the header to
 * another origin, so the token only goes to allowed origins on every hop.
 *
 * A body that cannot be sent twice (a Node stream, an async iterable) is never
 * re-sent: its 401 still refreshes, then rejects with an `AuthError` of code
 * `BODY_NOT_REPLAYABLE`. A `Request`, a `ReadableStream` and every in-memory body are replayed.
 *
 * @example
 * const authFetch = createAuthFetch(manager, { allowedOrigins: ['https://api.example.com'] })
 * const res = await authFetch('https://api.example.com/me')
 */
export function createAuthFetch(manager: TokenManager, options: AuthFetchOptions = {}): typeof fetch {
  assertManager('createAuthFetch(manager, options?)', manager)
  const header = options.header ?? 'Authorization'
  const lower = header.toLowerCase()
  const scheme = options.scheme ?? 'Bearer'
  const custom = options.shouldRefresh
  const isAllowed = createOriginCheck(options.allowedOrigins)
  const send = (input: RequestInfo | URL, init?: RequestInit) => (options.fetch ?? fetch)(input, init)

  /** The default reads the status only; a custom `shouldRefresh` reads a clone, and the caller's body stays unread. */
  const refreshNeeded = async (response: Response): Promise<boolean> => {
    if (!custom) return response.status === 401
    const copy = response.clone()
    try {
      return await custom(copy)
    } finally {
      // One branch of the tee: cancelling it frees what it buffered, the caller's branch goes on.
      discard(copy)
    }
  }

  return async function authFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
    const request = requestLike(input)
    const url = request ? request.url : String(input)
    if (!isAllowed(url)) return send(input, init)
    const signal = init?.signal ?? request?.signal ?? undefined
    const token = manager.peekToken() ?? (await manager.getToken({ signal }))
    if (!token) {
      const response = await send(input, init)
      // After a terminal failure, a 401 of a request that went without a token is a SessionExpiredError (DESIGN 14).
      if (await refreshNeeded(response)) await manager.tokenRejected(null, { signal })
      return response
    }

    // Fetch: `new Request(request, init)` takes init's headers and body over the request's.
    const pairs = pairsOf(init?.headers !== undefined || !request ? init?.headers : request.headers).filter(([name]) => name.toLowerCase() !== lower)
    const body = init?.body
    const kind = body == null ? (request ? 'request' : 'none') : bodyKind(body)
    let method = (init?.method ?? request?.method ?? 'GET').toUpperCase()
    // Where the runtime would carry the header across a redirect, follow redirects here. Only a page's
    // fetch drops Authorization across origins by itself (Fetch standard, tested in Chromium); Node 18.0's
    // did not, and no runtime drops a header of another name.
    const follow = (init?.redirect ?? request?.redirect ?? 'follow') === 'follow' && !(lower === 'authorization' && page())
    /** A ReadableStream body: one branch of a tee per attempt, the other kept for the next. */
    let spare = kind === 'web-stream' ? (body as ReadableStream) : undefined
    let sent = false

    const nextBody = (): BodyInit | null | undefined => {
      if (!spare) return body
      const [branch, rest] = spare.tee()
      spare = rest
      return branch
    }
    const headersFor = (target: string, token: AccessToken, drop: readonly string[] = [], allowed = isAllowed(target)) => {
      const headers: Record<string, string> = {}
      for (const [name, value] of pairs) {
        if (drop.includes(name.toLowerCase())) continue
        headers[name] = name in headers ? `${headers[name]}, ${value}` : value
      }
      if (allowed) headers[header] = scheme ? `${scheme} ${token.value}` : token.value
      return headers
    }

    const attempt = async (token: AccessToken): Promise<Response> => {
      if (sent && kind === 'stream') throw notReplayable('fetch', 'it was refused (401)')
      sent = true
      const first: RequestInit = { ...init, headers: headersFor(url, token, [], true) }
      if (kind !== 'none' && kind !== 'request') first.body = nextBody()
      if (follow) first.redirect = 'manual'
      let response = await send(request ? (request.clone() as unknown as Request) : input, first)
      let current = url
      // A page answers 'manual' with an opaque redirect: status 0, no Location.
      for (let hops = 0; follow && (response.type === 'opaqueredirect' || isRedirect(response.status)); hops++) {
        if (response.type === 'opaqueredirect') {
          // A page hid where it goes; letting it follow would carry a header the browser keeps across origins.
          throw new AuthError('REDIRECT_BLOCKED', `authFetch: ${method} ${current} was redirected; with the token in "${header}" the browser would carry it to wherever the redirect goes, so it is not followed`)
        }
        const location = response.headers.get('location')
        if (location === null) break
        if (hops === MAX_REDIRECTS) throw new TypeError(`authFetch: more than ${MAX_REDIRECTS} redirects from ${url}`)
        const next = new URL(location, response.url || current).href
        discard(response)
        const drop: string[] = originOf(next) === originOf(current) ? [] : [...CROSS_ORIGIN_DROPPED]
        let hopBody: BodyInit | null | undefined
        if (response.status === 303 ? method !== 'GET' && method !== 'HEAD' : response.status <= 302 && method === 'POST') {
          // Fetch: 303 (and 301/302 after a POST) become a GET without a body.
          method = 'GET'
          drop.push(...BODY_HEADERS)
        } else if (kind === 'stream') {
          throw notReplayable('fetch', `it was redirected (${response.status})`)
        } else {
          hopBody = kind === 'request' ? await request!.clone().arrayBuffer() : nextBody()
          if (hopBody instanceof ArrayBuffer && !hopBody.byteLength) hopBody = undefined
        }
        response = await send(next, { ...init, method, headers: headersFor(next, token, drop), body: hopBody, redirect: 'manual', signal })
        current = next
      }
      return response
    }

    try {
      const response = await attempt(token)
      if (!(await refreshNeeded(response))) return response
      const next = await manager.tokenRejected(token, { signal })
      // Its session ended: handed back as fetch gave it, never retried under another session.
      if (!next) return response
      // Free the connection of the answer that is thrown away.
      discard(response)
      return await attempt(next)
    } finally {
      spare?.cancel().catch(ignore)
    }
  } as typeof fetch
}

