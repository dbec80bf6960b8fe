/**
 * DPoP vs Bearer, per request, side by side: the same adapter and manager with
 * and without `sender: dpop()`, on in-memory transports (no network), so the
 * difference is the proof: an ECDSA P-256 signature through WebCrypto, a
 * SHA-256 of the token (cached per token), a random jti. Rounds are interleaved
 * and the medians of per-round ratios are reported (see overhead.ts).
 */
import axios from 'axios'
import { Bench } from 'tinybench'
import { createTokenManager, type TokenManager } from 'silent-refresh'
import { attachAxios } from 'silent-refresh/axios'
import { createAuthFetch } from 'silent-refresh/fetch'
import { dpop } from 'silent-refresh/dpop'
import { makeJwt, memoryAdapter, memoryFetch } from './lib/clients.js'
import { median, num, ratio, table } from './lib/report.js'

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 9)
const TIME_MS = Number(process.env.BENCH_TIME_MS ?? 300)
const BASE = 'http://api.test'

const now = Math.floor(Date.now() / 1000)
const tokens = { accessToken: makeJwt({ sub: 'bench', iat: now, exp: now + 3600 }), refreshToken: 'refresh-1' }

async function manager(withDpop: boolean): Promise<TokenManager> {
  const made = createTokenManager({ refresh: () => Promise.reject(new Error('no refresh expected')), sender: withDpop ? dpop() : undefined })
  await made.setTokens(tokens)
  return made
}

const [bearer, signed] = await Promise.all([manager(false), manager(true)])
const adapter = memoryAdapter()
const axiosBearer = axios.create({ baseURL: BASE, adapter })
const axiosDpop = axios.create({ baseURL: BASE, adapter })
attachAxios(axiosBearer, bearer)
attachAxios(axiosDpop, signed)
const fetchBearer = createAuthFetch(bearer, { fetch: memoryFetch, allowedOrigins: [BASE] })
const fetchDpop = createAuthFetch(signed, { fetch: memoryFetch, allowedOrigins: [BASE] })

// A benchmark of a broken setup measures nothing: DPoP must really sign, Bearer must not.
const { config } = await axiosDpop.get('/me')
if (!String(config.headers.Authorization).startsWith('DPoP ') || !config.headers.DPoP) throw new Error('axios + dpop: no proof sent')
if ((await axiosBearer.get('/me')).config.headers.DPoP) throw new Error('axios bearer: a proof was sent')

const tasks: [string, () => Promise<unknown>][] = [
  ['axios, Bearer', () => axiosBearer.get('/me')],
  ['axios, DPoP', () => axiosDpop.get('/me')],
  ['fetch, Bearer', () => fetchBearer(`${BASE}/me`)],
  ['fetch, DPoP', () => fetchDpop(`${BASE}/me`)],
]

const hz = new Map<string, number[]>(tasks.map(([name]) => [name, []]))
for (let round = 0; round < ROUNDS; round++) {
  const bench = new Bench({ time: TIME_MS, warmupTime: 100 })
  for (let i = 0; i < tasks.length; i++) {
    const [name, fn] = tasks[(i + round) % tasks.length]!
    bench.add(name, fn)
  }
  await bench.run()
  for (const task of bench.tasks) {
    if (task.result.state !== 'completed') throw new Error(`${task.name}: ${task.result.state}`)
    hz.get(task.name)!.push(1000 / task.result.period)
  }
}

const rows = tasks.map(([name]) => {
  const base = name.replace('DPoP', 'Bearer')
  const own = hz.get(name)!
  const bearerHz = hz.get(base)!
  const slowdowns = own.map((h, i) => bearerHz[i]! / h)
  const addedUs = own.map((h, i) => 1e6 / h - 1e6 / bearerHz[i]!)
  return [
    name,
    num(median(own)),
    name === base ? '1.00×' : ratio(median(slowdowns)),
    name === base ? '—' : `${ratio(Math.min(...slowdowns))}–${ratio(Math.max(...slowdowns))}`,
    name === base ? '—' : `${num(median(addedUs), 1)} µs`,
  ]
})
table(
  `DPoP vs Bearer per request, valid token (median of ${ROUNDS} interleaved rounds of ${TIME_MS} ms per task)`,
  ['client', 'ops/s', 'time vs Bearer', 'range over rounds', 'added per request'],
  rows,
  [
    'In-memory adapter/fetch: no network. The added time is the proof (an ES256 signature through WebCrypto, per attempt); a real request costs far more.',
  ],
)
