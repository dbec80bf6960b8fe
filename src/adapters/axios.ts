import { AxiosError, AxiosHeaders, CanceledError, getAdapter } from 'axios'
import type { AxiosAdapter, AxiosInstance, AxiosResponse, InternalAxiosRequestConfig } from 'axios'
import type { AccessToken, TokenManager } from '../core/types.js'
import { bodyKind, notReplayable } from './internal/http.js'
import { createOriginCheck } from './internal/origin.js'
import { assertManager } from './internal/wiring.js'

declare module 'axios' {
  interface AxiosRequestConfig {
    /** Send no token and never refresh for this request (login, the refresh call itself). */
    skipAuth?: boolean
  }
}

export interface AttachAxiosOptions {
  /** @default 'Authorization' */
  header?: string
  /** Put before the token; '' sends the bare token. @default 'Bearer' */
  scheme?: string
  /**
   * Whether an answer should refresh and retry once (the same stale-401 rule as
   * a 401). May be async. When set, it is asked about every answer, successes
   * included (a GraphQL 200 with `errors[].extensions.code === 'UNAUTHENTICATED'`),
   * as an `AxiosError` whose `response.data` has been through `transformResponse`
   * on a copy: the caller's response is transformed once, by axios.
   * @default response status 401
   */
  shouldRefresh?: (error: AxiosError) => boolean | Promise<boolean>
  /** Origins that get the token beyond relative URLs and the instance's `baseURL` origin. */
  allowedOrigins?: string[]
}

type Config = InternalAxiosRequestConfig
type RedirectOptions = { href?: string; headers?: Record<string, unknown> }
type BeforeRedirect = (options: RedirectOptions, ...rest: unknown[]) => void
/** A 401: the answer, and what the adapter rejected with, if it did. */
type Refused = { response: AxiosResponse; failed?: boolean; failure?: unknown }

/** What axios uses when `adapter` is not set. */
const DEFAULT_ADAPTERS = ['xhr', 'http', 'fetch']

/**
 * On a wrapper of ours (the adapter, `beforeRedirect`): what it wraps. A config
 * sent again (`api.request(error.config)`, axios-retry) names our wrappers.
 */
const WRAPPED = Symbol('silent-refresh.wrapped')

/** The app's own adapter or `beforeRedirect`: never a wrapper of ours. */
function unwrapped<T>(value: T): T {
  return typeof value === 'function' && WRAPPED in value ? (value as { [WRAPPED]: T })[WRAPPED] : value
}

/** The URL axios sends to (its buildFullPath): a relative URL joined to `baseURL`. */
function fullPath({ baseURL, url = '', allowAbsoluteUrls }: Config): string {
  if (!baseURL || (allowAbsoluteUrls !== false && /^([a-z][a-z\d+\-.]*:)?\/\//i.test(url))) return url
  return url ? `${baseURL.replace(/\/?\/$/, '')}/${url.replace(/^\/+/, '')}` : baseURL
}

/** `response.data` as the caller will get it: the config's `transformResponse`, on a copy. */
function transformed(config: Config, response: AxiosResponse): unknown {
  let data: unknown = response.data
  const fns = config.transformResponse
  try {
    for (const fn of Array.isArray(fns) ? fns : fns ? [fns] : []) data = fn.call(config, data, AxiosHeaders.from(response.headers as never).normalize(true), response.status)
    return data
  } catch {
    return response.data // what axios would reject with is not this function's to decide
  }
}

/**
 * Runs `wait` with the request's signal and `CancelToken` merged into one
 * signal; when either fires, rejects at once as axios does (DESIGN 7): with the
 * token's reason, or a `CanceledError`.
 */
async function cancellable<T>(config: Config, wait: (signal: AbortSignal | undefined) => Promise<T>): Promise<T> {
  const token = config.cancelToken
  let signal = config.signal as AbortSignal | undefined
  let stop: (() => void) | undefined
  if (token) {
    const controller = new AbortController()
    const abort = () => controller.abort()
    const outer = signal
    token.subscribe(abort)
    outer?.addEventListener('abort', abort)
    if (outer?.aborted) abort()
    stop = () => {
      token.unsubscribe(abort)
      outer?.removeEventListener('abort', abort)
    }
    signal = controller.signal
  }
  try {
    return await wait(signal)
  } catch (error) {
    if (signal?.aborted) throw token?.reason ?? new CanceledError(undefined, undefined, config)
    throw error
  } finally {
    stop?.()
  }
}

/**
 * Attaches the access token to the requests of an axios instance, and on a 401
 * refreshes once (shared by every request) and retries the request once.
 * Returns the function that detaches it.
 *
 * The work happens at the adapter, beneath the app's interceptors and
 * transforms: the token is judged on the URL axios will really send to (after
 * every request interceptor), and a retry re-sends the prepared request, so the
 * app's interceptors and transforms run once and the caller gets exactly what
 * a first-try success gives. In Node, a redirect to an origin that is not
 * allowed loses the token, whatever the header's name. A stream body (a Node
 * stream, the `form-data` package) is never re-sent: its 401 refreshes, then
 * rejects with an `AuthError` of code `BODY_NOT_REPLAYABLE`.
 *
 * @example
 * const api = axios.create({ baseURL: 'https://api.example.com' })
 * attachAxios(api, manager)
 * await api.get('/me') // Authorization: Bearer …
 */
export function attachAxios(instance: AxiosInstance, manager: TokenManager, options: AttachAxiosOptions = {}): () => void {
  if (typeof instance?.interceptors?.request?.use !== 'function') {
    throw new TypeError('attachAxios(instance, manager): "instance" must be an axios instance, such as axios.create({ baseURL })')
  }
  assertManager('attachAxios(instance, manager)', manager)
  const header = options.header ?? 'Authorization'
  const lower = header.toLowerCase()
  const sender = manager.sender
  const scheme = options.scheme ?? sender?.scheme ?? 'Bearer'
  const custom = options.shouldRefresh
  // A per-request baseURL is followed to judge where a request goes, and trusted only if it is an allowed origin.
  const isAllowed = createOriginCheck(options.allowedOrigins, () => instance.defaults.baseURL)
  const value = (token: AccessToken) => (scheme ? `${scheme} ${token.value}` : token.value)

  /** Whether an answer asks a custom `shouldRefresh` for a refresh; `failure` is what the adapter rejected with, if it did. */
  const askCustom = async (config: Config, response: AxiosResponse, failure: unknown): Promise<boolean> => {
    const seen = { ...response, data: transformed(config, response) }
    const error = failure as AxiosError
    return custom!(new AxiosError(error?.message ?? `Request answered ${response.status}`, error?.code, config, response.request, seen))
  }

  /** Sets the header; in Node (follow-redirects), each redirect hop carries it only to an allowed origin, whatever its name. */
  const attach = (config: Config, token: AccessToken) => {
    const current = value(token)
    config.headers.set(header, current)
    const theirs = unwrapped(config.beforeRedirect as BeforeRedirect | undefined)
    const guard: BeforeRedirect & { [WRAPPED]?: BeforeRedirect } = (options, ...rest) => {
      const headers = options.headers ?? {}
      for (const name of Object.keys(headers)) if (name.toLowerCase() === lower) delete headers[name]
      if (options.href && isAllowed(options.href)) headers[header] = current
      theirs?.(options, ...rest)
    }
    guard[WRAPPED] = theirs
    config.beforeRedirect = guard as never
  }

  /**
   * The request, sent with `token` (or none) and retried once; what the adapter
   * gives back, as it gives it. `refused`: the 401 a first try of the hot path
   * met, to go on from.
   */
  const send = async (real: AxiosAdapter, config: Config, token: AccessToken | null | undefined, refused?: Refused): Promise<AxiosResponse> => {
    let { response, failed = false, failure }: Partial<Refused> = refused ?? {}
    /**
     * One attempt with `token`. A nonce challenge of the `sender` (DPoP) sends
     * it once more with a fresh proof: not a refresh, not the retry-once.
     * Resolves `true` when the server asked a second time: hand it back.
     */
    const attempt = async (again?: boolean): Promise<boolean> => {
      if (sender && token) config.headers.set(await sender.headers(config.method!, fullPath(config), token.value))
      failed = false
      try {
        response = await real(config)
      } catch (error) {
        failed = true
        failure = error
        response = (error as AxiosError)?.response
      }
      if (!response || !token || !sender?.answered(fullPath(config), response)) return false
      // A stream was read by the first try: never re-sent.
      if (again || bodyKind(config.data) === 'stream') return true
      return attempt(true)
    }
    const settle = () => {
      if (failed) throw failure
      return response!
    }
    if (!refused) {
      // No promise when a valid token is at hand (peekToken); else wait, cancellable.
      if (token === undefined) token = await cancellable(config, (signal) => manager.getToken({ signal }))
      if (token) attach(config, token)
      // No answer (network, cancel): nothing to refresh.
      if ((await attempt()) || !response || !(custom ? await askCustom(config, response, failure) : response.status === 401)) return settle()
    }
    // A request that went without a token: a 401 after a terminal failure is a SessionExpiredError (DESIGN 14).
    const next = await cancellable(config, (signal) => manager.tokenRejected(token ?? null, { signal }))
    // Its session ended (or it went without a token): handed back as it is, never retried under another session.
    if (!next) return settle()
    // A stream was read by the first try: never re-sent empty, never left waiting for data that will not come.
    if (bodyKind(config.data) === 'stream') throw notReplayable('axios', 'it was refused (401)', failure)
    token = next
    attach(config, next)
    await attempt()
    return settle()
  }

  /** Each adapter wrapped once (a config names its adapter by value: the same array or function each time). */
  let wrapped = new Map<unknown, AxiosAdapter>()
  const wrap = (adapter: Config['adapter']): AxiosAdapter => {
    let wrapper = wrapped.get(adapter)
    if (!wrapper) {
      wrapper = function silentRefresh(config: Config) {
        // Names ('xhr', 'http', 'fetch') are resolved per request, as axios does (the fetch adapter reads the config).
        const real = typeof adapter === 'function' ? adapter : getAdapter(adapter ?? DEFAULT_ADAPTERS, config)
        if (!isAllowed(fullPath(config))) return real(config)
        const token = manager.peekToken()
        if (token === undefined || sender || custom) return send(real, config, token)
        // The hot path (a token at hand or none, no sender, the 401 rule): no async step of ours until a 401.
        if (token) attach(config, token)
        return real(config).then(
          (response) => (response?.status === 401 ? send(real, config, token, { response }) : response),
          (failure: unknown) => {
            const response = (failure as AxiosError)?.response
            if (response?.status === 401) return send(real, config, token, { response, failed: true, failure })
            throw failure
          },
        )
      }
      Object.defineProperty(wrapper, WRAPPED, { value: adapter })
      if (wrapped.size >= 50) wrapped = new Map()
      wrapped.set(adapter, wrapper)
    }
    return wrapper
  }

  // Only names the adapter: the decisions are taken there, after every request interceptor and transform.
  const request = instance.interceptors.request.use(
    (config) => {
      // Never a wrapper of a wrapper (one token, one retry), and skipAuth unwraps one that was sent again.
      const named = unwrapped(config.adapter)
      config.adapter = config.skipAuth ? named : wrap(named)
      // Nor the redirect hops of its last try: they follow this request's token, set at the adapter, or none.
      if (config.beforeRedirect) config.beforeRedirect = unwrapped(config.beforeRedirect)
      // A refresh due soon starts here, in the background, before axios dispatches the request (DESIGN 4):
      // the conformance suite expects the server to see it before the requests' answers come back. The
      // token itself is asked for again at the adapter. `synchronous`: no promise hop of axios's own for
      // this interceptor (npm run bench -- instructions: 370k → 359k instructions a request, the same as
      // a bare interceptor setting one header).
      if (!config.skipAuth) manager.peekToken()
      return config
    },
    null,
    { synchronous: true },
  )

  return () => {
    instance.interceptors.request.eject(request)
  }
}
