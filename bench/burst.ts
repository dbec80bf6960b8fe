/**
 * Burst: N concurrent requests when the access token has expired server-side
 * (the client cannot know). Each library's axios instance runs over the same
 * keep-alive agent to a local node:http server whose refresh takes a fixed time.
 * Reported: refresh calls, requests that succeeded, time from the first 401 to
 * the last success, and that time above the physical limit.
 */
import http from 'node:http'
import { performance } from 'node:perf_hooks'
import axios, { isAxiosError, type AxiosAdapter } from 'axios'
import { VARIANTS, createClient, type Library, type RefreshCall, type Tokens } from './lib/clients.js'
import { startTokenApi, type Counters } from './lib/token-api.js'
import { median, ms, num, table } from './lib/report.js'

const SIZES = (process.env.BENCH_BURST_SIZES ?? '10,100,1000,10000').split(',').map(Number)
const REFRESH_LATENCY_MS = 50
const MAX_SOCKETS = 256
const repeats = (n: number) => (n >= 10_000 ? 3 : 5)

const server = await startTokenApi()
// Requests and the refresh use separate pools (the token endpoint is usually its own host):
// a refresh queued behind 10,000 requests in one pool would measure the pool, not the library.
const agent = new http.Agent({ keepAlive: true, maxSockets: MAX_SOCKETS })
const refreshAgent = new http.Agent({ keepAlive: true, maxSockets: 4 })
const raw = axios.create({ baseURL: server.url, httpAgent: refreshAgent, timeout: 30_000 })
const refresh: RefreshCall = async (refreshToken) => {
  const { data } = await raw.post<{ access_token: string; refresh_token: string }>('/token', { refresh_token: refreshToken })
  return { accessToken: data.access_token, refreshToken: data.refresh_token }
}

/** The real http adapter, timing the first 401 the client receives. */
let first401 = Number.POSITIVE_INFINITY
const httpAdapter = axios.getAdapter('http')
const observed: AxiosAdapter = async (config) => {
  try {
    return await httpAdapter(config)
  } catch (error) {
    if (isAxiosError(error) && error.response?.status === 401) first401 = Math.min(first401, performance.now())
    throw error
  }
}
const defaults = { baseURL: server.url, httpAgent: agent, adapter: observed, timeout: 30_000 }

const session = () => server.control<Tokens>({ action: 'session', refreshLatencyMs: REFRESH_LATENCY_MS })

/**
 * The same 2N requests a burst carries (N answered 401, N retried) with a valid token,
 * through bare axios: first response to last response is what the machine needs anyway.
 */
async function validBurst(n: number): Promise<number> {
  const tokens = await session()
  const api = axios.create(defaults)
  const headers = { Authorization: `Bearer ${tokens.accessToken}` }
  let first = Number.POSITIVE_INFINITY
  let last = 0
  await Promise.all(
    Array.from({ length: n }, () =>
      api.get('/api/data', { headers }).then(() => {
        const at = performance.now()
        first = Math.min(first, at)
        last = at
      }),
    ),
  )
  return last - first
}

interface Run {
  refreshes: number
  reuses: number
  ok: number
  /** First 401 to last success, ms (NaN when nothing succeeded after a 401). */
  window: number
}

async function burst(library: Library, n: number): Promise<Run> {
  const tokens = await session()
  const client = await createClient(library, defaults, tokens, refresh)
  await client.api.get('/api/data') // one warm request: connections open, the library initialised
  await server.control({ action: 'expire' })
  first401 = Number.POSITIVE_INFINITY
  let lastOk = Number.NaN
  const results = await Promise.allSettled(
    Array.from({ length: n }, () => client.api.get('/api/data').then(() => void (lastOk = performance.now()))),
  )
  client.dispose()
  const counters = await server.control<Counters>({ action: 'counters' })
  return {
    refreshes: counters.refreshes,
    reuses: counters.reuses,
    ok: results.filter((r) => r.status === 'fulfilled').length,
    window: lastOk - first401,
  }
}

// Physical limits: one refresh and one request, each alone, and each burst size with a valid token.
const refreshRtts: number[] = []
const requestRtts: number[] = []
for (let i = 0; i < 7; i++) {
  const tokens = await session()
  let start = performance.now()
  await refresh(tokens.refreshToken)
  refreshRtts.push(performance.now() - start)
  const fresh = await session()
  start = performance.now()
  await raw.get('/api/data', { headers: { Authorization: `Bearer ${fresh.accessToken}` } })
  requestRtts.push(performance.now() - start)
}
const refreshRtt = median(refreshRtts)
const requestRtt = median(requestRtts)

const rows: string[][] = []
const peerRows: string[][] = []
for (const n of SIZES) {
  const runs = new Map<Library, Run[]>(VARIANTS.map((library) => [library, []]))
  const carried: number[] = []
  const retried: number[] = []
  for (let rep = 0; rep < repeats(n); rep++) {
    carried.push(await validBurst(2 * n))
    retried.push(await validBurst(n))
    // Interleaved, order rotating: each library meets the machine in every state.
    for (let i = 0; i < VARIANTS.length; i++) {
      const library = VARIANTS[(i + rep) % VARIANTS.length]!
      runs.get(library)!.push(await burst(library, n))
    }
  }
  const ours = runs.get('silent-refresh')!
  const window = median(ours.map((r) => r.window))
  // The retries start after the refresh and take a valid burst of N; all 2N requests take a valid burst of 2N.
  const limit = Math.max(refreshRtt + requestRtt + median(retried), median(carried))
  rows.push([
    num(n),
    ours.map((r) => r.refreshes).join(', '),
    `${num(median(ours.map((r) => r.ok)))}/${num(n)}`,
    ms(window),
    ms(window - (refreshRtt + requestRtt)),
    ms(median(retried)),
    ms(median(carried)),
    ms(window - limit),
  ])
  const cell = (library: Library) => {
    const r = runs.get(library)!
    const reuses = Math.max(...r.map((x) => x.reuses))
    const window = median(r.filter((x) => x.ok === n).map((x) => x.window))
    return (
      `${r.map((x) => x.refreshes).join(', ')}${reuses ? ` (reuse ≤ ${reuses})` : ''}; ${num(median(r.map((x) => x.ok)))}/${num(n)} ok` +
      (Number.isNaN(window) ? '' : `; ${ms(window, 0)}`)
    )
  }
  peerRows.push([num(n), ...VARIANTS.map(cell)])
}

table(
  `Burst after a server-side expiry: silent-refresh (axios), refresh latency ${REFRESH_LATENCY_MS} ms, maxSockets ${MAX_SOCKETS}`,
  [
    'N',
    'refresh calls (each run)',
    'ok (median)',
    'first 401 → last success',
    'above refresh + 1 request',
    'valid burst of N',
    'valid burst of 2N',
    'above the limit',
  ],
  rows,
  [
    `Refresh RTT ${ms(refreshRtt, 2)} (${REFRESH_LATENCY_MS} ms server latency + the call), one request RTT ${ms(requestRtt, 2)}: medians of 7.`,
    '"valid burst of N / 2N": N or 2N concurrent requests with a valid token through bare axios on the same agent, first response to last.',
    'A burst carries 2N requests (N answered 401, N retried), and the retries can only start once the refresh has answered, so',
    '"above the limit" = first 401 → last success minus the larger of (refresh RTT + one request RTT + valid burst of N) and (valid burst of 2N). Medians of',
    `${repeats(10)} runs (${repeats(10_000)} at N = 10,000). One keep-alive http.Agent, maxSockets ${MAX_SOCKETS}, to 127.0.0.1; refresh calls over a second agent.`,
  ],
)
table(
  'Burst after a server-side expiry: refresh calls in each run; requests that succeeded; first 401 → last success (medians of runs)',
  ['N', ...VARIANTS],
  peerRows,
  [
    'The time is given for runs where every request succeeded.',
    'A "reuse" is a refresh that presented an already rotated refresh token: a server with reuse detection (RFC 9700 §4.14.2) revokes the session.',
    'axios-auth-refresh by default rejects every 401 that arrives while its refresh runs (Flyrell/axios-auth-refresh#56, #90);',
    '`deduplicateRefresh: false` is the workaround. axios-jwt only refreshes before sending, from the JWT\'s own `exp`:',
    'it has no response interceptor, so a token the server expired early is never refreshed and every request fails with 401.',
  ],
)

agent.destroy()
refreshAgent.destroy()
server.close()
