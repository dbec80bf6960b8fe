/**
 * One axios instance per library, set up the way each library's README says,
 * so every benchmark compares like with like: same axios, same adapter or
 * agent, same tokens, same refresh call.
 */
import axios, { AxiosError, type AxiosAdapter, type AxiosInstance, type AxiosResponse, type CreateAxiosDefaults, type InternalAxiosRequestConfig } from 'axios'
import { createAuthRefresh } from 'axios-auth-refresh'
import { applyAuthTokenInterceptor, setAuthTokens, type StorageType } from 'axios-jwt'
import { createTokenManager, type TokenManager } from 'silent-refresh'
import { attachAxios } from 'silent-refresh/axios'
import { createAuthFetch } from 'silent-refresh/fetch'

export interface Tokens {
  accessToken: string
  refreshToken: string
}

/** What a refresh costs the client: one call to the token endpoint. */
export type RefreshCall = (refreshToken: string) => Promise<Tokens>

export const LIBRARIES = ['silent-refresh', 'axios-auth-refresh', 'axios-jwt'] as const
/**
 * The libraries, plus axios-auth-refresh with `deduplicateRefresh: false`: by default it
 * "pauses" the instance while refreshing, and a 401 that arrives meanwhile is rejected, not
 * retried (Flyrell/axios-auth-refresh#56, #90); turning that off is the maintainer's workaround.
 */
export const VARIANTS = ['silent-refresh', 'axios-auth-refresh', 'axios-auth-refresh, deduplicateRefresh: false', 'axios-jwt'] as const
export type Library = (typeof VARIANTS)[number]

export interface Client {
  library: Library
  api: AxiosInstance
  /** Refresh calls this client made. */
  refreshes(): number
  dispose(): void
}

const b64url = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url')

/** A JWT-shaped token (unsigned; clients only decode). axios-jwt needs `exp`, so every token has one. */
export function makeJwt(claims: Record<string, unknown>): string {
  return `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url(claims)}.c2lnbmF0dXJl`
}

/** An axios adapter that answers at once without any network: the floor every library adds to. */
export function memoryAdapter(status = 200, data: unknown = { ok: true }): AxiosAdapter {
  return (config: InternalAxiosRequestConfig) => {
    const response: AxiosResponse = { data, status, statusText: status === 200 ? 'OK' : 'Unauthorized', headers: {}, config, request: {} }
    if (status < 400) return Promise.resolve(response)
    return Promise.reject(new AxiosError(`Request failed with status code ${status}`, AxiosError.ERR_BAD_REQUEST, config, {}, response))
  }
}

/** A fetch that answers at once without any network; a new Response per call, as a real fetch gives. */
export const memoryFetch: typeof fetch = async () => new Response('{"ok":true}', { status: 200, headers: { 'content-type': 'application/json' } })

/** axios-jwt keeps its tokens in a storage; this one is memory, so no library pays for a slower one. */
function jwtStorage(): StorageType {
  const map = new Map<string, string>()
  return {
    get: async (key) => map.get(key) ?? null,
    set: async (key, value) => void map.set(key, value),
    remove: async (key) => void map.delete(key),
  }
}

/**
 * An axios instance wired with `library`, holding `tokens`, refreshing with `refresh`.
 * silent-refresh and axios-jwt see the token's `exp`; axios-auth-refresh only reacts to 401s.
 */
export async function createClient(library: Library, defaults: CreateAxiosDefaults, tokens: Tokens, refresh: RefreshCall): Promise<Client> {
  const api = axios.create(defaults)
  let refreshes = 0
  const counted: RefreshCall = (refreshToken) => {
    refreshes++
    return refresh(refreshToken)
  }
  let dispose = () => {}

  if (library === 'silent-refresh') {
    const manager = createTokenManager({
      refresh: ({ refreshToken }) => counted(refreshToken ?? ''),
      retry: { attempts: 0, baseDelayMs: 0 },
    })
    await manager.setTokens(tokens)
    attachAxios(api, manager)
    dispose = () => manager.dispose()
  } else if (library.startsWith('axios-auth-refresh')) {
    // Its README: the app attaches the token itself and hands the library a refresh function.
    let current = tokens
    api.interceptors.request.use((config) => {
      config.headers.set('Authorization', `Bearer ${current.accessToken}`)
      return config
    })
    createAuthRefresh(api, async (failed: AxiosError) => {
      current = await counted(current.refreshToken)
      failed.response?.config.headers.set('Authorization', `Bearer ${current.accessToken}`)
    }, { deduplicateRefresh: library === 'axios-auth-refresh' })
  } else {
    // Module-level state: one axios-jwt session per process, replaced by setAuthTokens.
    const storage = jwtStorage()
    applyAuthTokenInterceptor(api, { requestRefresh: (refreshToken) => counted(refreshToken), getStorage: () => storage })
    await setAuthTokens(tokens)
  }
  return { library, api, refreshes: () => refreshes, dispose }
}

/** A token manager holding `tokens`, for the fetch adapter. */
export async function createManager(tokens: Tokens, refresh: RefreshCall): Promise<TokenManager> {
  const manager = createTokenManager({ refresh: ({ refreshToken }) => refresh(refreshToken ?? ''), retry: { attempts: 0, baseDelayMs: 0 } })
  await manager.setTokens(tokens)
  return manager
}

export { createAuthFetch }
