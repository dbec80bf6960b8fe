import { CanceledError } from 'axios'
import type { AxiosError, AxiosInstance, InternalAxiosRequestConfig } from 'axios'
import type { TokenManager } from '../core/types.js'
import { isAllowed, normalizeOrigins } from './internal/origin.js'

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
  shouldRefresh?: (error: AxiosError) => boolean
  /** Origins that get the token beyond relative URLs and the instance's `baseURL` origin. */
  allowedOrigins?: string[]
}

/** What the interceptors remember on a request config; a string key, as axios copies configs on retry. */
const STATE = '__silentRefresh'
type State = { token: string | null; retried?: boolean }
type Config = InternalAxiosRequestConfig & { [STATE]?: State }

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
  const header = options.header ?? 'Authorization'
  const scheme = options.scheme ?? 'Bearer'
  const shouldRefresh = options.shouldRefresh ?? ((error: AxiosError) => error.response?.status === 401)
  const allowed = normalizeOrigins(options.allowedOrigins)

  const canceled = (error: unknown, config: Config) =>
    config.signal?.aborted ? new CanceledError(undefined, config) : error

  const request = instance.interceptors.request.use(async (config: Config) => {
    const state = config[STATE]
    // getUri() resolves as axios sends: a per-request baseURL is followed here, never trusted.
    if (config.skipAuth || !isAllowed(instance.getUri(config), allowed, instance.defaults.baseURL)) return config
    let token: string | null
    try {
      token = await manager.getAccessToken({ signal: config.signal as AbortSignal | undefined })
    } catch (error) {
      throw canceled(error, config)
    }
    config[STATE] = { token, retried: state?.retried }
    if (token) config.headers.set(header, scheme ? `${scheme} ${token}` : token)
    return config
  })

  const response = instance.interceptors.response.use(undefined, async (error: AxiosError) => {
    const config = error?.config as Config | undefined
    const state = config?.[STATE]
    // Retry once: a request that fails again after a refresh is handed back as it is.
    if (!config || !state?.token || state.retried || config.skipAuth || !shouldRefresh(error)) throw error
    try {
      await manager.refresh({ staleToken: state.token, signal: config.signal as AbortSignal | undefined })
    } catch (refreshError) {
      throw canceled(refreshError, config)
    }
    config[STATE] = { token: null, retried: true }
    config.headers.delete(header) // the request interceptor sets the current one
    return instance.request(config)
  })

  return () => {
    instance.interceptors.request.eject(request)
    instance.interceptors.response.eject(response)
  }
}
