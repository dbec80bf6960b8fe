/**
 * Late 401s: N requests sent with a token the server has expired; the first 401
 * comes back at once and starts a refresh, the others come back spread evenly
 * over 0–500 ms after that refresh answered (slow requests, slow proxies). A
 * library that refreshes on every 401 refreshes again for each late one.
 */
import http from 'node:http'
import axios from 'axios'
import { VARIANTS, createAuthFetch, createClient, createManager, type Library, type RefreshCall, type Tokens } from './lib/clients.js'
import { startTokenApi, type Counters } from './lib/token-api.js'
import { median, num, table } from './lib/report.js'

const N = 50
const SPREAD_MS = 500
const REPEATS = 3
const FETCH = 'silent-refresh (fetch)'

const server = await startTokenApi()
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 })
const raw = axios.create({ baseURL: server.url, httpAgent: new http.Agent({ keepAlive: true }), timeout: 30_000 })
const refresh: RefreshCall = async (refreshToken) => {
  const { data } = await raw.post<{ access_token: string; refresh_token: string }>('/token', { refresh_token: refreshToken })
  return { accessToken: data.access_token, refreshToken: data.refresh_token }
}
/** Request i's 401 leaves i × 500/(N−1) ms after the refresh; request 0's at once. */
const path = (i: number) => `/api/data?late=${Math.round((i * SPREAD_MS) / (N - 1))}`

interface Run {
  refreshes: number
  reuses: number
  ok: number
}

async function run(library: Library | typeof FETCH): Promise<Run> {
  const tokens = await server.control<Tokens>({ action: 'session', refreshLatencyMs: 50 })
  let send: (path: string) => Promise<unknown>
  let dispose = () => {}
  if (library === FETCH) {
    const manager = await createManager(tokens, refresh)
    const authFetch = createAuthFetch(manager, { allowedOrigins: [server.url] })
    send = async (p) => {
      const res = await authFetch(`${server.url}${p}`)
      await res.arrayBuffer()
      if (!res.ok) throw new Error(`HTTP ${res.status}`)
    }
    dispose = () => manager.dispose()
  } else {
    const client = await createClient(library, { baseURL: server.url, httpAgent: agent, timeout: 30_000 }, tokens, refresh)
    send = (p) => client.api.get(p)
    dispose = client.dispose
  }
  await send('/api/data')
  await server.control({ action: 'expire' })
  const results = await Promise.allSettled(Array.from({ length: N }, (_, i) => send(path(i))))
  dispose()
  const counters = await server.control<Counters>({ action: 'counters' })
  return { refreshes: counters.refreshes, reuses: counters.reuses, ok: results.filter((r) => r.status === 'fulfilled').length }
}

const names: (Library | typeof FETCH)[] = [...VARIANTS, FETCH]
const runs = new Map<string, Run[]>(names.map((name) => [name, []]))
for (let rep = 0; rep < REPEATS; rep++) {
  for (let i = 0; i < names.length; i++) {
    const name = names[(i + rep) % names.length]!
    runs.get(name)!.push(await run(name))
  }
}

table(
  `Late 401s: ${N} requests, their 401s spread over 0–${SPREAD_MS} ms after the refresh (${REPEATS} runs each)`,
  ['client', 'refresh calls (each run)', 'reuses (each run)', 'ok (median)'],
  names.map((name) => {
    const r = runs.get(name)!
    return [name, r.map((x) => x.refreshes).join(', '), r.map((x) => x.reuses).join(', '), `${num(median(r.map((x) => x.ok)))}/${N}`]
  }),
  [
    'silent-refresh compares the token a 401 was sent with to the current one: a stale 401 is retried with the new token, no refresh.',
    'A refresh per late 401 rotates the refresh token each time: more load on the token endpoint, and with several tabs or',
    'instances sharing the session, reuse detection. axios-jwt never refreshes on a 401 (see the burst).',
  ],
)

agent.destroy()
server.close()
