/**
 * Demo server under load (autocannon): GET /api/me with a valid token against a
 * bare Fastify route returning the same JSON, served by the same child process;
 * then refresh-token rotations per second on POST /auth/token with the SQLite
 * store, each connection rotating its own token family.
 */
import { fork } from 'node:child_process'
import { rmSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import autocannon, { type Result } from 'autocannon'
import { USER } from './lib/demo-child.js'
import { median, ms, num, ratio, table } from './lib/report.js'

const ROUNDS = Number(process.env.BENCH_DEMO_ROUNDS ?? 3)
const DURATION_S = Number(process.env.BENCH_DEMO_SECONDS ?? 5)
const CONNECTIONS = 32

const child = fork(fileURLToPath(new URL('./lib/demo-child.ts', import.meta.url)), [], { execArgv: ['--import', 'tsx'], stdio: 'inherit' })
const ask = <T>(type: string) =>
  new Promise<T>((resolve) => {
    child.once('message', (message) => resolve(message as T))
    child.send({ type })
  })
const ports = await new Promise<{ demo: number; bare: number; dir: string }>((resolve, reject) => {
  child.once('message', (message) => resolve(message as { demo: number; bare: number; dir: string }))
  child.once('exit', (code) => reject(new Error(`demo server exited with ${code}`)))
})
const demo = `http://127.0.0.1:${ports.demo}`
const bare = `http://127.0.0.1:${ports.bare}`

interface TokenResponse {
  access_token: string
  refresh_token: string
}
async function login(): Promise<TokenResponse> {
  const res = await fetch(`${demo}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(USER) })
  if (res.status !== 200) throw new Error(`login: HTTP ${res.status}`)
  return (await res.json()) as TokenResponse
}

const failures = (r: Result) => r.errors + r.timeouts + r.non2xx

// GET /api/me: the demo app (bearer check: EdDSA verify + session lookup, user lookup, helmet, CORS) vs a bare route.
const { access_token: accessToken } = await login()
const headers = { authorization: `Bearer ${accessToken}` }
const me = (url: string, duration: number) => autocannon({ url: `${url}/api/me`, connections: CONNECTIONS, duration, headers })
await me(bare, 1)
await me(demo, 1)
const meRuns = { bare: [] as Result[], demo: [] as Result[] }
for (let round = 0; round < ROUNDS; round++) {
  // Alternate which goes first, so both meet the machine in both states.
  for (const which of round % 2 ? (['demo', 'bare'] as const) : (['bare', 'demo'] as const)) {
    meRuns[which].push(await me(which === 'demo' ? demo : bare, DURATION_S))
  }
}

/** Rotations: CONNECTIONS sessions; each connection takes the newest token of its family and puts the rotated one back. */
async function rotations(): Promise<Result> {
  const free: string[] = []
  for (const session of await Promise.all(Array.from({ length: CONNECTIONS }, login))) free.push(session.refresh_token)
  const result = await autocannon({
    url: `${demo}/auth/token`,
    connections: CONNECTIONS,
    duration: DURATION_S,
    requests: [
      {
        method: 'POST',
        // autocannon calls onResponse and then setupRequest on the same connection, so with a stack (LIFO)
        // each connection takes back the token it just received: one family per connection, one request in flight each.
        setupRequest: (request, context) => {
          const token = free.pop()
          if (!token) throw new Error('no free refresh token: more requests in flight than sessions')
          Object.assign(context, { token })
          return {
            ...request,
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: `grant_type=refresh_token&refresh_token=${token}`,
          }
        },
        onResponse: (status, body, context) => {
          if (status === 200) free.push((JSON.parse(body) as TokenResponse).refresh_token)
          else free.push((context as { token: string }).token) // counted in non2xx
        },
      },
    ],
  })
  return result
}
const rotationRuns: Result[] = []
for (let round = 0; round < ROUNDS; round++) rotationRuns.push(await rotations())
const { revoked } = await ask<{ revoked: number }>('revoked')
child.kill()
rmSync(ports.dir, { recursive: true, force: true })

const row = (name: string, runs: Result[], base?: Result[]) => [
  name,
  num(median(runs.map((r) => r.requests.average))),
  base ? ratio(median(runs.map((r, i) => r.requests.average / base[i]!.requests.average))) : '1.00×',
  ms(median(runs.map((r) => r.latency.p50)), 0),
  ms(median(runs.map((r) => r.latency.p99)), 0),
  num(runs.reduce((sum, r) => sum + failures(r), 0)),
]
table(
  `GET /api/me with a valid token vs a bare Fastify route (autocannon, ${CONNECTIONS} connections, ${ROUNDS} × ${DURATION_S} s each, alternating)`,
  ['server', 'req/s (median)', 'vs bare', 'p50', 'p99', 'errors + non-2xx'],
  [row('bare Fastify route, same JSON', meRuns.bare), row('demo server /api/me', meRuns.demo, meRuns.bare)],
  [
    'Same child process, same response schema; autocannon runs in the parent, so client and server each have about one of the two cores.',
    '/api/me verifies an EdDSA JWT (jose), checks its session in SQLite and reads the user, with helmet and CORS headers on top.',
  ],
)
table(
  `Refresh-token rotations on POST /auth/token, SQLite store (autocannon, ${CONNECTIONS} connections = ${CONNECTIONS} token families, ${ROUNDS} × ${DURATION_S} s)`,
  ['rotations/s (median)', 'p50', 'p99', 'errors + non-2xx', 'reuse detections (revoked families)'],
  [
    [
      num(median(rotationRuns.map((r) => r.requests.average))),
      ms(median(rotationRuns.map((r) => r.latency.p50)), 0),
      ms(median(rotationRuns.map((r) => r.latency.p99)), 0),
      num(rotationRuns.reduce((sum, r) => sum + failures(r), 0)),
      num(revoked),
    ],
  ],
  [
    'Each rotation: one SQLite BEGIN IMMEDIATE transaction (look up, compare-and-set, insert the child) and one EdDSA-signed access token.',
    'Rate limits lifted for the benchmark (buildApp rateLimits: 1e9 per minute); logins use cheap scrypt parameters (not measured).',
  ],
)

// autocannon leaves reconnecting sockets to the stopped server behind: end here, the results are printed.
process.exit(0)
