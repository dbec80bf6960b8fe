/**
 * Memory (run with --expose-gc): heap per request queued behind one refresh at
 * N = 100,000, and heap after 1,000,000 requests through an attached instance.
 * In-memory adapter and fetch: the heap is the client's alone.
 */
import axios, { type AxiosAdapter, type AxiosResponse } from 'axios'
import { createAuthFetch, createClient, createManager, makeJwt, memoryAdapter, memoryFetch, type Tokens } from './lib/clients.js'
import { num, settle, table } from './lib/report.js'

const gc = (globalThis as { gc?: () => void }).gc
if (!gc) throw new Error('run with node --expose-gc (npm run bench does)')
const QUEUED = Number(process.env.BENCH_QUEUED ?? 100_000)
const THROUGH = Number(process.env.BENCH_THROUGH ?? 1_000_000)
const BASE = 'http://api.test'

const now = Math.floor(Date.now() / 1000)
const jwt = (name: string) => makeJwt({ sub: 'bench', name, iat: now, exp: now + 3600 })
const OLD = jwt('old')
const NEW = jwt('new')
const tokens: Tokens = { accessToken: OLD, refreshToken: 'refresh-1' }

async function heap(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    await settle()
    gc!()
  }
  return process.memoryUsage().heapUsed
}

interface Queue {
  send(): Promise<unknown>
  /** Every request has reached the point where it waits. */
  ready(): boolean
  /** Ends the wait (the refresh answers, or the adapter does). */
  release(): void
}

/** Heap per waiting request: fire QUEUED requests, wait until all wait, measure, release, check they all succeed. */
async function measureQueue(name: string, setup: () => Promise<Queue>): Promise<string[]> {
  const queue = await setup()
  const before = await heap()
  const pending: Promise<unknown>[] = []
  for (let i = 0; i < QUEUED; i++) pending.push(queue.send())
  for (let spins = 0; !queue.ready(); spins++) {
    if (spins > 100_000) throw new Error(`${name}: the requests never all queued`)
    await settle()
  }
  const after = await heap()
  queue.release()
  const failed = (await Promise.allSettled(pending)).filter((r) => r.status === 'rejected').length
  return [name, num((after - before) / QUEUED), failed ? `${num(failed)} failed` : 'all succeeded']
}

/** 401 for the old token, 200 for the new one; counts the 401s, so we know when every request is waiting. */
function expiringAdapter(): { adapter: AxiosAdapter; unauthorized: () => number } {
  let unauthorized = 0
  const ok = memoryAdapter(200)
  const expired = memoryAdapter(401)
  const adapter: AxiosAdapter = (config) => {
    if (String(config.headers.Authorization).endsWith(NEW)) return ok(config)
    unauthorized++
    return expired(config)
  }
  return { adapter, unauthorized: () => unauthorized }
}

/** A refresh that answers only when released. */
function heldRefresh() {
  let calls = 0
  let answer = () => {}
  const refresh = () => {
    calls++
    return new Promise<Tokens>((resolve) => (answer = () => resolve({ accessToken: NEW, refreshToken: 'refresh-2' })))
  }
  return { refresh, calls: () => calls, release: () => answer() }
}

const queueRows: string[][] = []

queueRows.push(
  await measureQueue('axios (bare), request in flight (reference)', async () => {
    let inFlight = 0
    const answers: (() => void)[] = []
    const api = axios.create({
      baseURL: BASE,
      adapter: (config) => {
        inFlight++
        const response: AxiosResponse = { data: { ok: true }, status: 200, statusText: 'OK', headers: {}, config }
        return new Promise<AxiosResponse>((resolve) => answers.push(() => resolve(response)))
      },
    })
    return { send: () => api.get('/me'), ready: () => inFlight === QUEUED, release: () => answers.forEach((answer) => answer()) }
  }),
)

for (const library of ['silent-refresh', 'axios-auth-refresh, deduplicateRefresh: false'] as const) {
  queueRows.push(
    await measureQueue(`axios + ${library}, waiting on the refresh`, async () => {
      const { adapter, unauthorized } = expiringAdapter()
      const held = heldRefresh()
      const client = await createClient(library, { baseURL: BASE, adapter }, tokens, held.refresh)
      return { send: () => client.api.get('/me'), ready: () => unauthorized() === QUEUED && held.calls() === 1, release: held.release }
    }),
  )
}

queueRows.push(
  await measureQueue('fetch (bare), request in flight (reference)', async () => {
    let inFlight = 0
    const answers: (() => void)[] = []
    const pendingFetch: typeof fetch = () => {
      inFlight++
      return new Promise<Response>((resolve) => answers.push(() => resolve(new Response('{"ok":true}'))))
    }
    return { send: () => pendingFetch(`${BASE}/me`), ready: () => inFlight === QUEUED, release: () => answers.forEach((answer) => answer()) }
  }),
)

queueRows.push(
  await measureQueue('fetch + silent-refresh, waiting on the refresh', async () => {
    let unauthorized = 0
    const expiringFetch: typeof fetch = async (_input, init) => {
      if (new Headers(init?.headers).get('Authorization')?.endsWith(NEW)) return new Response('{"ok":true}')
      unauthorized++
      return new Response('{"error":"invalid_token"}', { status: 401 })
    }
    const held = heldRefresh()
    const manager = await createManager(tokens, held.refresh)
    const authFetch = createAuthFetch(manager, { fetch: expiringFetch, allowedOrigins: [BASE] })
    const send = async () => {
      const res = await authFetch(`${BASE}/me`)
      if (!res.ok) throw new Error(`HTTP ${res.status}`)
    }
    return { send, ready: () => unauthorized === QUEUED && held.calls() === 1, release: held.release }
  }),
)

table(
  `Heap per request waiting on one refresh, N = ${num(QUEUED)}`,
  ['client', 'bytes per request', 'after the refresh'],
  queueRows,
  [
    'Heap used after gc() with all N requests waiting, minus before, divided by N. The bare rows are a request still in flight',
    '(its adapter has not answered): the floor any client pays per pending request. The other rows have had their 401 and wait',
    'for the one refresh; then each is retried once.',
  ],
)

/** Heap after gc() every THROUGH/5 requests, 1,000 at a time, through an attached instance with a valid token. */
async function through(name: string, send: () => Promise<unknown>): Promise<string[]> {
  const samples: number[] = []
  const batch = 1_000
  const step = THROUGH / 5
  for (let done = 0; done <= THROUGH; done += batch) {
    if (done % step === 0) samples.push(await heap())
    if (done === THROUGH) break
    const wave: Promise<unknown>[] = []
    for (let i = 0; i < batch; i++) wave.push(send())
    await Promise.all(wave)
  }
  const kb = (b: number) => num(b / 1024)
  // The first sample is taken before any request: later ones include what warm-up allocates once (JIT, caches).
  return [name, ...samples.map(kb), `${num((samples.at(-1)! - samples[1]!) / 1024)} KB`]
}

const valid: Tokens = { accessToken: NEW, refreshToken: 'refresh-1' }
const never = () => Promise.reject(new Error('no refresh expected'))
const attached = await createClient('silent-refresh', { baseURL: BASE, adapter: memoryAdapter() }, valid, never)
const authFetch = createAuthFetch(await createManager(valid, never), { fetch: memoryFetch, allowedOrigins: [BASE] })
const step = num(THROUGH / 5)
table(
  `Heap (KB) after ${num(THROUGH)} requests through one attached instance, valid token, after gc()`,
  ['client', '0', step, num((2 * THROUGH) / 5), num((3 * THROUGH) / 5), num((4 * THROUGH) / 5), num(THROUGH), `growth after the first ${step}`],
  [await through('axios + silent-refresh', () => attached.api.get('/me')), await through('fetch + silent-refresh', () => authFetch(`${BASE}/me`))],
  ['1,000 requests at a time. Flat = no per-request state survives a request.'],
)
