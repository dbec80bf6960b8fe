/**
 * Per-request overhead with a valid token: bare axios vs axios with each library,
 * all on one in-memory adapter (no network); bare fetch vs createAuthFetch on an
 * in-memory fetch. Rounds are interleaved (task order rotates each round) and the
 * medians of the rounds are reported, so a noisy neighbour hits every task alike.
 */
import axios, { type AxiosInstance } from 'axios'
import { Bench } from 'tinybench'
import { LIBRARIES, createAuthFetch, createClient, createManager, makeJwt, memoryAdapter, memoryFetch, type Tokens } from './lib/clients.js'
import { median, num, ratio, table } from './lib/report.js'

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 9)
const TIME_MS = Number(process.env.BENCH_TIME_MS ?? 300)
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

const hz = new Map<string, number[]>(tasks.map(([name]) => [name, []]))
for (let round = 0; round < ROUNDS; round++) {
  const bench = new Bench({ time: TIME_MS, warmupTime: 100 })
  // Rotate the order each round: no task always runs first (cold) or last (after the others' garbage).
  for (let i = 0; i < tasks.length; i++) {
    const [name, fn] = tasks[(i + round) % tasks.length]!
    bench.add(name, fn)
  }
  await bench.run()
  for (const task of bench.tasks) {
    const result = task.result
    if (result.state !== 'completed') throw new Error(`${task.name}: ${result.state}`)
    hz.get(task.name)!.push(1000 / result.period)
  }
}

const rows = tasks.map(([name]) => {
  const bare = name.startsWith('fetch') ? 'fetch (bare)' : 'axios (bare)'
  const own = hz.get(name)!
  const base = hz.get(bare)!
  // Ratio per round (same moment, same neighbours), then the median of those.
  const slowdowns = own.map((h, i) => base[i]! / h)
  const addedUs = own.map((h, i) => 1e6 / h - 1e6 / base[i]!)
  return [
    name,
    num(median(own)),
    name === bare ? '1.00×' : ratio(median(slowdowns)),
    `${ratio(Math.min(...slowdowns))}–${ratio(Math.max(...slowdowns))}`,
    name === bare ? '—' : `${num(median(addedUs), 2)} µs`,
  ]
})
table(
  `Per-request overhead, valid token (median of ${ROUNDS} interleaved rounds of ${TIME_MS} ms per task)`,
  ['client', 'ops/s', 'time vs bare', 'range over rounds', 'added per request'],
  rows,
  [
    '"time vs bare" is the bare client\'s ops/s divided by this one\'s (1.05× = 5 % slower), taken per round, median over rounds.',
    'In-memory adapter/fetch: no network, so this is the whole client-side cost. A real request over a network costs 100s of µs more.',
  ],
)
