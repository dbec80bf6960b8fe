import { AuthError } from '../core/errors.js'
import type { AccessToken, TokenManager } from '../core/types.js'
import { bodyKind, isRedirect, notReplayable, requestLike, type RequestLike } from './internal/http.js'
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

/** A redirect to follow; a page answers 'manual' with an opaque one (status 0, no Location). */
function redirected(response: Response): boolean {
  const status = response.status // one getter for the usual answer
  return status === 0 ? response.type === 'opaqueredirect' : isRedirect(status)
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
  const sender = manager.sender
  const scheme = options.scheme ?? sender?.scheme ?? 'Bearer'
  const custom = options.shouldRefresh
  const isAllowed = createOriginCheck(options.allowedOrigins)
  const send = (input: RequestInfo | URL, init?: RequestInit) => (options.fetch ?? fetch)(input, init)

  /** Whether a response asks for a refresh. A custom `shouldRefresh` reads a clone: the caller's body stays unread. */
  async function refreshNeeded(response: Response): Promise<boolean> {
    const copy = response.clone()
    try {
      return await custom!(copy)
    } finally {
      // One branch of the tee: cancelling it frees what it buffered, the caller's branch goes on.
      discard(copy)
    }
  }

  /** The request's headers without the token header, with it when `url` is allowed one, less `drop`. */
  function headersFor(plan: Plan, token: AccessToken, url: string | false, drop: readonly string[] = []): Record<string, string> {
    const headers: Record<string, string> = {}
    for (const [name, value] of plan.pairs) {
      const key = name.toLowerCase()
      if (key === lower || drop.includes(key)) continue
      headers[name] = name in headers ? `${headers[name]}, ${value}` : value
    }
    if (url) headers[header] = scheme ? `${scheme} ${token.value}` : token.value
    return headers
  }

  /** Proof of possession (DPoP): fresh for each attempt and each hop. Without a sender, no promise hop. */
  async function prove(plan: Plan, token: AccessToken, url: string, headers: Record<string, string>): Promise<void> {
    Object.assign(headers, await sender!.headers(plan.method, url, token.value))
  }

  /** The body for the next attempt: a ReadableStream is teed, one branch sent, the other kept for the next. */
  function nextBody(plan: Plan): BodyInit | null | undefined {
    if (!plan.spare) return plan.body
    const [branch, rest] = plan.spare.tee()
    plan.spare = rest
    return branch
  }

  /** Sends one attempt's request: `headers`, the body for this attempt, redirects by hand where the plan follows them. */
  function sendOnce(plan: Plan, headers: Record<string, string>): Promise<Response> {
    const init: RequestInit = { ...plan.init, headers }
    if (plan.kind !== 'none' && plan.kind !== 'request') init.body = nextBody(plan)
    if (plan.follow) init.redirect = 'manual'
    return send(plan.request ? (plan.request.clone() as unknown as Request) : plan.input, init)
  }

  /**
   * One attempt with `token`, its redirects followed. A nonce challenge of the
   * `sender` (DPoP) sends it once more: not a refresh, not the retry-once; a
   * second one marks the plan `challenged`, and the answer is handed back.
   */
  async function attempt(plan: Plan, token: AccessToken, again?: boolean): Promise<Response> {
    if (plan.sent && plan.kind === 'stream') throw notReplayable('fetch', 'it was refused (401)')
    plan.sent = true
    const headers = headersFor(plan, token, plan.url)
    if (sender) await prove(plan, token, plan.url, headers)
    return answered(plan, token, await sendOnce(plan, headers), again)
  }

  /** An attempt's answer: its redirects followed, a sender's nonce challenge answered (see `attempt`). */
  async function answered(plan: Plan, token: AccessToken, response: Response, again?: boolean): Promise<Response> {
    if (plan.follow && redirected(response)) response = await follow(plan, token, response)
    if (sender?.answered(plan.url, response)) {
      if (!again) {
        discard(response)
        return attempt(plan, token, true)
      }
      plan.challenged = true
    }
    return response
  }

  /** Follows redirects as the Fetch standard does, the token on each hop only to an allowed origin. */
  async function follow(plan: Plan, token: AccessToken, response: Response): Promise<Response> {
    let current = plan.url
    for (let hops = 0; redirected(response); hops++) {
      if (response.type === 'opaqueredirect') {
        // A page hid where it goes; letting it follow would carry a header the browser keeps across origins.
        throw new AuthError('REDIRECT_BLOCKED', `authFetch: ${plan.method} ${current} was redirected; with the token in "${header}" the browser would carry it to wherever the redirect goes, so it is not followed`)
      }
      const location = response.headers.get('location')
      if (location === null) break
      if (hops === MAX_REDIRECTS) throw new TypeError(`authFetch: more than ${MAX_REDIRECTS} redirects from ${plan.url}`)
      const next = new URL(location, response.url || current).href
      discard(response)
      const drop: string[] = originOf(next) === originOf(current) ? [] : [...CROSS_ORIGIN_DROPPED]
      let body: BodyInit | null | undefined
      if (response.status === 303 ? plan.method !== 'GET' && plan.method !== 'HEAD' : response.status <= 302 && plan.method === 'POST') {
        // Fetch: 303 (and 301/302 after a POST) become a GET without a body.
        plan.method = 'GET'
        drop.push(...BODY_HEADERS)
      } else if (plan.kind === 'stream') {
        throw notReplayable('fetch', `it was redirected (${response.status})`)
      } else {
        body = plan.request ? await plan.request.clone().arrayBuffer() : nextBody(plan)
        if (body instanceof ArrayBuffer && !body.byteLength) body = undefined
      }
      const allowed = isAllowed(next)
      const headers = headersFor(plan, token, allowed && next, drop)
      if (sender && allowed) await prove(plan, token, next, headers)
      response = await send(next, { ...plan.init, method: plan.method, headers, body, redirect: 'manual', signal: plan.signal })
      current = next
    }
    return response
  }

  /** What the adapter keeps of one request for its attempts. */
  function planOf(input: RequestInfo | URL, init: RequestInit | undefined, request: RequestLike | undefined, url: string): Plan {
    const body = init?.body
    const kind = body == null ? (request ? 'request' : 'none') : bodyKind(body)
    const method = init?.method ?? request?.method
    return {
      input,
      init,
      request,
      url,
      signal: init?.signal ?? request?.signal ?? undefined,
      // Fetch: `new Request(request, init)` takes init's headers over the request's.
      pairs: pairsOf(init?.headers !== undefined || !request ? init?.headers : request.headers),
      body,
      kind,
      spare: kind === 'web-stream' ? (body as ReadableStream) : undefined,
      method: method === undefined ? 'GET' : method.toUpperCase(),
      // Where the runtime would carry the header across a redirect, follow redirects here. Only a page's
      // fetch drops Authorization across origins by itself (Fetch standard, tested in Chromium); Node 18.0's
      // did not, and no runtime drops a header of another name.
      follow: (init?.redirect ?? request?.redirect ?? 'follow') === 'follow' && !(lower === 'authorization' && page()),
      sent: false,
    }
  }

  /** The request from its first attempt's answer on: a 401 (or `shouldRefresh`) refreshes once and retries once. */
  async function settle(plan: Plan, token: AccessToken, first: Promise<Response>): Promise<Response> {
    try {
      const response = await first
      if (plan.challenged || !(custom ? await refreshNeeded(response) : response.status === 401)) return response
      const next = await manager.tokenRejected(token, { signal: plan.signal })
      // Its session ended: handed back as fetch gave it, never retried under another session.
      if (!next) return response
      // Free the connection of the answer that is thrown away.
      discard(response)
      return await attempt(plan, next)
    } finally {
      plan.spare?.cancel().catch(ignore)
    }
  }

  /** A request without a token at hand: it waits for one, or goes without. */
  async function waited(plan: Plan): Promise<Response> {
    const token = await manager.getToken({ signal: plan.signal })
    if (token) return settle(plan, token, attempt(plan, token))
    const response = await send(plan.input, plan.init)
    // After a terminal failure, a 401 of a request that went without a token is a SessionExpiredError (DESIGN 14).
    if (custom ? await refreshNeeded(response) : response.status === 401) await manager.tokenRejected(null, { signal: plan.signal })
    return response
  }

  return function authFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
    // As an async function would: whatever throws is a rejected promise.
    try {
      const request = requestLike(input)
      const url = request ? request.url : String(input)
      if (!isAllowed(url)) return send(input, init)
      const plan = planOf(input, init, request, url)
      const token = manager.peekToken()
      if (!token) return waited(plan)
      if (sender || custom || plan.spare) return settle(plan, token, attempt(plan, token))
      // The hot path (no sender, the 401 rule, no stream to tee): no async step of ours until a redirect or a 401.
      plan.sent = true
      return Promise.resolve(sendOnce(plan, headersFor(plan, token, url))).then((response) =>
        response.status === 401 || (plan.follow && redirected(response)) ? settle(plan, token, answered(plan, token, response)) : response,
      )
    } catch (error) {
      return Promise.reject(error)
    }
  } as typeof fetch
}

/** One request through the adapter: what it was given, and what each attempt needs. */
interface Plan {
  input: RequestInfo | URL
  init: RequestInit | undefined
  request: RequestLike | undefined
  url: string
  signal: AbortSignal | undefined
  pairs: Pairs
  body: BodyInit | null | undefined
  kind: 'none' | 'request' | ReturnType<typeof bodyKind>
  /** A ReadableStream body's branch not sent yet. */
  spare: ReadableStream | undefined
  method: string
  /** Whether redirects are followed here (`redirect: 'manual'`), not by the runtime. */
  follow: boolean
  sent: boolean
  /** The server asked for a new nonce twice in a row (DPoP): handed back, not refreshed. */
  challenged?: boolean
}
