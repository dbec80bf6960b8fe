/**
 * One client of the overhead benchmark, run `n` times in a row: the program that
 * bench/instructions.ts runs under callgrind. `node --import tsx bench/lib/overhead-task.ts <task> <n>`.
 */
import axios from 'axios'
import { createAuthFetch, createClient, createManager, makeJwt, memoryAdapter, memoryFetch, type Tokens } from './clients.js'

export const TASKS = [
  'axios (bare)',
  'axios + an interceptor setting Authorization',
  'axios + silent-refresh',
  'axios + axios-auth-refresh',
  'fetch (bare)',
  'fetch + an Authorization header',
  'fetch + silent-refresh (createAuthFetch)',
] as const
export type Task = (typeof TASKS)[number]

const BASE = 'http://api.test'

async function requestOf(task: Task): Promise<() => Promise<unknown>> {
  const now = Math.floor(Date.now() / 1000)
  const tokens: Tokens = { accessToken: makeJwt({ sub: 'bench', iat: now, exp: now + 3600 }), refreshToken: 'refresh-1' }
  const never = () => Promise.reject(new Error('no refresh expected with a valid token'))
  const adapter = memoryAdapter()
  switch (task) {
    case 'axios (bare)': {
      const api = axios.create({ baseURL: BASE, adapter })
      return () => api.get('/me')
    }
    case 'axios + an interceptor setting Authorization': {
      // The floor of any library that attaches a token: one synchronous interceptor, one header.
      const api = axios.create({ baseURL: BASE, adapter })
      api.interceptors.request.use(
        (config) => {
          config.headers.set('Authorization', `Bearer ${tokens.accessToken}`)
          return config
        },
        null,
        { synchronous: true },
      )
      return () => api.get('/me')
    }
    case 'axios + silent-refresh':
    case 'axios + axios-auth-refresh': {
      const { api } = await createClient(task === 'axios + silent-refresh' ? 'silent-refresh' : 'axios-auth-refresh', { baseURL: BASE, adapter }, tokens, never)
      return () => api.get('/me')
    }
    case 'fetch (bare)':
      return () => memoryFetch(`${BASE}/me`)
    case 'fetch + an Authorization header': {
      const headers = { Authorization: `Bearer ${tokens.accessToken}` }
      return () => memoryFetch(`${BASE}/me`, { headers })
    }
    case 'fetch + silent-refresh (createAuthFetch)': {
      const authFetch = createAuthFetch(await createManager(tokens, never), { fetch: memoryFetch, allowedOrigins: [BASE] })
      return () => authFetch(`${BASE}/me`)
    }
  }
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const task = process.argv[2] as Task
  const n = Number(process.argv[3])
  if (!TASKS.includes(task) || !(n >= 0)) throw new Error(`usage: overhead-task.ts <${TASKS.join(' | ')}> <n>`)
  const request = await requestOf(task)
  for (let i = 0; i < n; i++) await request()
}
