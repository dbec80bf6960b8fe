/**
 * The cost of DPoP on the demo server's hot path: GET /api/me with a bearer
 * token against the same route with a DPoP-bound token and a fresh proof per
 * request (`Authorization: DPoP` + `DPoP`), side by side in each round, on one
 * app (buildApp, SQLite file, nonces on) over a real port, autocannon with 10
 * connections. Proofs are signed before the clock starts, so the load
 * generator's ES256 signing is not counted: what is measured is the server's
 * proof check (ES256 verification, htu, ath) and its replay-cache write.
 *
 *   npm run bench -- demo-dpop     (BENCH_DPOP_ROUNDS, BENCH_DPOP_SECONDS)
 */
import { createHash, createPrivateKey, randomUUID, sign } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import autocannon from 'autocannon'
import type { FastifyInstance } from 'fastify'
import { exportJWK, generateKeyPair } from 'jose'
import { median, ms, num, ratio, table } from './lib/report.js'

const ROUNDS = Number(process.env.BENCH_DPOP_ROUNDS ?? 3)
const SECONDS = Number(process.env.BENCH_DPOP_SECONDS ?? 4)

// demo-server is its own TypeScript project (imports end in .ts): loaded by path, typed by the little used here.
interface Demo {
  buildApp(options: Record<string, unknown>): Promise<FastifyInstance & { dpop: { verifier: { nonce(): string } } }>
  openSqliteStore(path: string): { close(): Promise<void> }
  generateSigningKeys(): Promise<unknown>
  createScryptHasher(params: { N: number; r: number; p: number }): unknown
  seedUser(store: unknown, hasher: unknown, username: string, password: string): Promise<unknown>
}
const src = new URL('../demo-server/src/', import.meta.url)
const load = async (path: string): Promise<Partial<Demo>> => (await import(new URL(path, src).href)) as Partial<Demo>
const demo = Object.assign(
  {},
  ...(await Promise.all(['app.ts', 'store/sqlite-store.ts', 'tokens/keys.ts', 'auth/password.ts', 'auth/seed.ts'].map(load))),
) as Demo

const dir = mkdtempSync(join(tmpdir(), 'bench-dpop-'))
const store = demo.openSqliteStore(join(dir, 'bench.db'))
const hasher = demo.createScryptHasher({ N: 1024, r: 8, p: 1 })
await demo.seedUser(store, hasher, 'bench', 'bench')
const app = await demo.buildApp({
  store,
  keys: await demo.generateSigningKeys(),
  passwordHasher: hasher,
  rateLimits: { loginPerIp: { max: 1e9, windowMs: 60_000 } },
  maxConnectionsPerAddress: 0,
  logger: { level: 'warn' },
})
await app.listen({ port: 0, host: '127.0.0.1' })
const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`

// The client's key, and proofs signed synchronously with node:crypto.
const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true })
const { x, y } = await exportJWK(publicKey)
const signingKey = createPrivateKey({ key: await exportJWK(privateKey), format: 'jwk' })
const nonce = app.dpop.verifier.nonce()
const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url')
const header = b64({ alg: 'ES256', typ: 'dpop+jwt', jwk: { kty: 'EC', crv: 'P-256', x, y } })
function proof(htm: string, path: string, ath?: string): string {
  const input = `${header}.${b64({ jti: randomUUID(), htm, htu: base + path, iat: Math.floor(Date.now() / 1000), nonce, ...(ath ? { ath } : {}) })}`
  return `${input}.${sign('sha256', Buffer.from(input), { key: signingKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`
}
async function login(dpop?: string): Promise<string> {
  const res = await fetch(`${base}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(dpop ? { dpop } : {}) },
    body: JSON.stringify({ username: 'bench', password: 'bench' }),
  })
  if (res.status !== 200) throw new Error(`login: HTTP ${res.status} ${await res.text()}`)
  return ((await res.json()) as { access_token: string }).access_token
}
const bearer = await login()
const bound = await login(proof('POST', '/auth/login'))
const ath = createHash('sha256').update(bound).digest('base64url')

const run = (headers: () => Record<string, string>) =>
  autocannon({ url: `${base}/api/me`, connections: 10, duration: SECONDS, requests: [{ method: 'GET', setupRequest: (r) => ({ ...r, headers: headers() }) }] })

const rounds: Array<{ bearer: autocannon.Result; dpop: autocannon.Result }> = []
try {
  for (let round = 0; round < ROUNDS; round++) {
    // Enough proofs for the round (12,000 req/s, well above what DPoP reaches), made before it starts; each is used once.
    const proofs = Array.from({ length: 12_000 * SECONDS }, () => proof('GET', '/api/me', ath))
    const b = await run(() => ({ authorization: `Bearer ${bearer}` }))
    const d = await run(() => {
      const next = proofs.pop()
      if (!next) throw new Error('ran out of proofs')
      return { authorization: `DPoP ${bound}`, dpop: next }
    })
    rounds.push({ bearer: b, dpop: d })
  }
} finally {
  await app.close()
  await store.close()
  rmSync(dir, { recursive: true, force: true })
}

const line = (name: string, pick: (r: (typeof rounds)[number]) => autocannon.Result, vs: string) => [
  name,
  num(median(rounds.map((r) => pick(r).requests.average))),
  vs,
  ms(median(rounds.map((r) => pick(r).latency.p50)), 1),
  ms(median(rounds.map((r) => pick(r).latency.p99)), 1),
  num(rounds.reduce((sum, r) => sum + pick(r).errors + pick(r).timeouts + pick(r).non2xx, 0)),
]
table(
  `GET /api/me, bearer vs DPoP (SQLite, 10 connections, ${ROUNDS} rounds of ${SECONDS} s)`,
  ['token', 'req/s (median)', 'vs bearer (median of rounds)', 'p50', 'p99', 'errors + non-2xx'],
  [
    line('Bearer (auth cache hit)', (r) => r.bearer, '1.00×'),
    line('DPoP (cache hit + proof + jti write)', (r) => r.dpop, ratio(median(rounds.map((r) => r.dpop.requests.average / r.bearer.requests.average)))),
  ],
  ['Proofs signed before each round; the server verifies one ES256 signature and writes one replay-cache row per DPoP request.'],
)
