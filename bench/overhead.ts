/**
 * Per-request overhead with a valid token: bare axios vs axios with each library,
 * all on one in-memory adapter (no network); bare fetch vs createAuthFetch on an
 * in-memory fetch. Rounds are interleaved (task order rotates each round) and the
 * medians of the rounds are reported, so a noisy neighbour hits every task alike.
 */
import axios, { type AxiosInstance } from 'axios'
import { performance } from 'node:perf_hooks'
import { LIBRARIES, createAuthFetch, createClient, createManager, makeJwt, memoryAdapter, memoryFetch, type Tokens } from './lib/clients.js'
import { median, num, ratio, table } from './lib/report.js'

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15)
const TIME_MS = Number(process.env.BENCH_TIME_MS ?? 150)
const BASE = 'http://api.test'

const now = Math.floor(Date.now() / 1000)
const tokens: Tokens = { accessToken: makeJwt({ sub: 'bench', iat: now, exp: now + 3600 }), refreshToken: 'refresh-1' }
const never = () => Promise.reject(new Error('no refresh expected with a valid token'))

const adapter = memoryAdapter()
const axiosTasks: [string, AxiosInstance][] = [['axios (bare)', axios.create({ baseURL: BASE, adapter })]]
for (const library of LIBRARIES) {
  const client = await createClient(library, { baseURL: BASE, adapter }, tokens, never)
  axiosTasks.push([`axios + ${library}`, client.api])
}
const authFetch = createAuthFetch(await createManager(tokens, never), { fetch: memoryFetch, allowedOrigins: [BASE] })

const tasks: [string, () => Promise<unknown>][] = [
  ...axiosTasks.map(([name, api]): [string, () => Promise<unknown>] => [name, () => api.get('/me')]),
  ['fetch (bare)', () => memoryFetch(`${BASE}/me`)],
  ['fetch + silent-refresh (createAuthFetch)', () => authFetch(`${BASE}/me`)],
]
// Every task must really send the token (and the bare ones none): a benchmark of a broken setup measures nothing.
for (const [name, api] of axiosTasks) {
  const { config } = await api.get('/me')
  if (Boolean(config.headers.Authorization) === name.includes('bare')) throw new Error(`${name}: unexpected Authorization header`)
}

/**
 * One sample of `fn`: `iterations` sequential calls, timed both by the wall clock and by the CPU time
 * the process used (user + system, every thread: the JIT and the GC count too). On a loaded machine
 * the wall clock also counts the time this process waited for a core; its CPU time does not, so the
 * CPU ratio is the result and the wall ratio is shown beside it.
 */
async function sample(fn: () => Promise<unknown>, iterations: number): Promise<{ cpuUs: number; wallUs: number }> {
  const cpu = process.cpuUsage()
  const start = performance.now()
  for (let i = 0; i < iterations; i++) await fn()
  const wallUs = ((performance.now() - start) * 1000) / iterations
  const used = process.cpuUsage(cpu)
  return { cpuUs: (used.user + used.system) / iterations, wallUs }
}

// Warm up each task (JIT tiers, pools), then size its samples to about TIME_MS of CPU each.
const iterations = new Map<string, number>()
for (const [name, fn] of tasks) {
  await sample(fn, 2_000)
  const { cpuUs } = await sample(fn, 2_000)
  iterations.set(name, Math.max(200, Math.round((TIME_MS * 1000) / Math.max(cpuUs, 0.1))))
}

const cpuUs = new Map<string, number[]>(tasks.map(([name]) => [name, []]))
const wallUs = new Map<string, number[]>(tasks.map(([name]) => [name, []]))
for (let round = 0; round < ROUNDS; round++) {
  // Rotate the order each round: no task always runs first or right after another's garbage.
  for (let i = 0; i < tasks.length; i++) {
    const [name, fn] = tasks[(i + round) % tasks.length]!
    globalThis.gc?.()
    const result = await sample(fn, iterations.get(name)!)
    cpuUs.get(name)!.push(result.cpuUs)
    wallUs.get(name)!.push(result.wallUs)
  }
}

const rows = tasks.map(([name]) => {
  const bare = name.startsWith('fetch') ? 'fetch (bare)' : 'axios (bare)'
  // Ratio per round (same moment, same neighbours), then the median of those.
  const per = (series: Map<string, number[]>) => series.get(name)!.map((us, i) => us / series.get(bare)![i]!)
  const cpu = per(cpuUs)
  const added = cpuUs.get(name)!.map((us, i) => us - cpuUs.get(bare)![i]!)
  return [
    name,
    `${num(median(cpuUs.get(name)!), 2)} µs`,
    name === bare ? '1.00×' : ratio(median(cpu)),
    name === bare ? '—' : `${ratio(Math.min(...cpu))}–${ratio(Math.max(...cpu))}`,
    name === bare ? '—' : `${num(median(added), 2)} µs`,
    name === bare ? '1.00×' : ratio(median(per(wallUs))),
  ]
})
table(
  `Per-request overhead, valid token (median of ${ROUNDS} interleaved rounds of about ${TIME_MS} ms of CPU per task)`,
  ['client', 'CPU per request', 'CPU vs bare', 'range over rounds', 'added CPU per request', 'wall clock vs bare'],
  rows,
  [
    '"CPU vs bare" is this client\'s CPU time per request (user + system, all threads) divided by the bare client\'s, taken per round, median over rounds (1.05× = 5 % more).',
    'CPU time, not the wall clock, is the result: on a shared machine the wall clock also counts time spent waiting for a core. The wall-clock ratio is shown for comparison.',
    'In-memory adapter/fetch: no network, so this is the whole client-side cost. A real request over a network costs 100s of µs more.',
  ],
)
