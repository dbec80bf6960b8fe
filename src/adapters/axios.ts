import { CanceledError } from 'axios'
import type { AxiosError, AxiosInstance, InternalAxiosRequestConfig } from 'axios'
import type { AccessToken, TokenManager, TokenStamp } from '../core/types.js'
import { isAllowed, normalizeOrigins } from './internal/origin.js'
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
  /** Whether a failed request should refresh and retry once. @default status 401 */
  shouldRefresh?: (error: AxiosError) => boolean | Promise<boolean>
  /** Origins that get the token beyond relative URLs and the instance's `baseURL` origin. */
  allowedOrigins?: string[]
}

/**
 * What a request was sent with: the stamp (session and generation, never the
 * token), `null` when it went without a token because no one was signed in,
 * `false` on its one retry. A string key: axios copies configs on retry, and a
 * symbol would not survive the copy.
 */
const SENT = '__silentRefresh'
type Config = InternalAxiosRequestConfig & { [SENT]?: TokenStamp | null | false }

/**
 * Attaches the access token to the requests of an axios instance, and on a 401
 * refreshes once (shared by every request) and retries the request once.
 * Returns the function that detaches both interceptors.
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
  const scheme = options.scheme ?? 'Bearer'
  const shouldRefresh = options.shouldRefresh ?? ((error: AxiosError) => error.response?.status === 401)
  const allowed = normalizeOrigins(options.allowedOrigins)
  const value = (token: AccessToken) => (scheme ? `${scheme} ${token.value}` : token.value)

  /** An abort while waiting for the token rejects as axios does, with a CanceledError. */
  const canceled = (config: Config) => (error: unknown) => {
    throw config.signal?.aborted ? new CanceledError(undefined, config) : error
  }

  const withToken = (config: Config, token: AccessToken | null) => {
    config[SENT] = token && { session: token.session, generation: token.generation }
    if (token) config.headers.set(header, value(token))
    return config
  }

  const request = instance.interceptors.request.use((config: Config) => {
    // The retry carries the token its 401 was answered with: never one of a later session.
    if (config[SENT] === false) return config
    // Where axios sends it (its buildFullPath): a relative URL joined to baseURL keeps baseURL's
    // origin. A per-request baseURL is followed here, and trusted only if it is an allowed origin.
    const url = config.url ?? ''
    const target = config.baseURL && (config.allowAbsoluteUrls === false || !/^([a-z][a-z\d+\-.]*:)?\/\//i.test(url)) ? config.baseURL : url
    if (config.skipAuth || !isAllowed(target, allowed, instance.defaults.baseURL)) return config
    const token = manager.peekToken() // the fast path: no promise when a valid token is at hand
    if (token !== undefined) return withToken(config, token)
    return manager
      .getToken({ signal: config.signal as AbortSignal | undefined })
      .then((token) => withToken(config, token), canceled(config))
  })

  const response = instance.interceptors.response.use(undefined, async (error: AxiosError) => {
    const config = error?.config as Config | undefined
    const sent = config?.[SENT]
    // Retry once: a request that fails again after a refresh is handed back as it is.
    // A request not sent by this adapter's rules (skipAuth, foreign origin) never refreshes.
    if (!config || sent === undefined || sent === false || config.skipAuth || !(await shouldRefresh(error))) throw error
    const next = await manager.tokenRejected(sent, { signal: config.signal as AbortSignal | undefined }).catch(canceled(config))
    // Its session ended (or it went without a token): handed back with its 401, never retried under another session.
    if (!next) throw error
    config[SENT] = false
    config.headers.set(header, value(next))
    return instance.request(config)
  })

  return () => {
    instance.interceptors.request.eject(request)
    instance.interceptors.response.eject(response)
  }
}
