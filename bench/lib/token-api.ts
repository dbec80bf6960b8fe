/**
 * A local token server and API on node:http (127.0.0.1 only), run as a child
 * process so its CPU is not the client's: `/token` rotates the refresh token
 * after a fixed latency, `/api/data` answers 200 to a valid access token and
 * 401 otherwise. `POST /__control` starts a session, expires every access token
 * server-side, and reads the counters.
 *
 * Access tokens stay valid until expired here (as JWTs do until `exp`), so a
 * token from an earlier refresh still works; an older refresh token is a reuse.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { randomBytes } from 'node:crypto'
import { makeJwt, type Tokens } from './clients.js'

export interface Counters {
  refreshes: number
  reuses: number
  unauthorized: number
  ok: number
}

export type Control =
  | { action: 'session'; refreshLatencyMs: number }
  | { action: 'expire' }
  | { action: 'counters' }

function serve(): void {
  let generation = 0
  let minValid = 1
  let currentRefresh = ''
  let latency = 50
  const issued = new Map<string, number>()
  let counters: Counters = { refreshes: 0, reuses: 0, unauthorized: 0, ok: 0 }
  let refreshed: Promise<void> = Promise.resolve()
  let markRefreshed = () => {}

  const issue = (): Tokens => {
    generation++
    const now = Math.floor(Date.now() / 1000)
    const accessToken = makeJwt({ sub: 'bench', gen: generation, jti: randomBytes(6).toString('hex'), iat: now, exp: now + 3600 })
    issued.set(accessToken, generation)
    currentRefresh = randomBytes(16).toString('base64url')
    return { accessToken, refreshToken: currentRefresh }
  }
  const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))
  const body = async (req: IncomingMessage): Promise<Record<string, unknown>> => {
    let text = ''
    for await (const chunk of req) text += chunk
    return text ? (JSON.parse(text) as Record<string, unknown>) : {}
  }
  const json = (res: ServerResponse, status: number, value: unknown) => {
    const text = JSON.stringify(value)
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
    res.end(text)
  }

  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    if (url.pathname === '/api/data') {
      const token = req.headers.authorization?.slice(7) ?? ''
      if ((issued.get(token) ?? 0) >= minValid) {
        counters.ok++
        return json(res, 200, { ok: true })
      }
      counters.unauthorized++
      const late = Number(url.searchParams.get('late') ?? 0)
      if (late > 0) {
        // A slow request: its 401 leaves `late` ms after the refresh answered (at most 2 s after it was asked).
        await Promise.race([refreshed, sleep(2000)])
        await sleep(late)
      }
      return json(res, 401, { error: 'invalid_token' })
    }
    if (url.pathname === '/token' && req.method === 'POST') {
      const { refresh_token: presented } = await body(req)
      counters.refreshes++
      if (presented !== currentRefresh) {
        counters.reuses++
        await sleep(latency)
        return json(res, 400, { error: 'invalid_grant' })
      }
      const tokens = issue()
      await sleep(latency)
      json(res, 200, { access_token: tokens.accessToken, refresh_token: tokens.refreshToken })
      markRefreshed()
      return
    }
    if (url.pathname === '/__control' && req.method === 'POST') {
      const control = (await body(req)) as Control
      if (control.action === 'session') {
        latency = control.refreshLatencyMs
        issued.clear()
        const tokens = issue()
        minValid = generation
        counters = { refreshes: 0, reuses: 0, unauthorized: 0, ok: 0 }
        return json(res, 200, tokens)
      }
      if (control.action === 'expire') {
        minValid = generation + 1
        refreshed = new Promise<void>((resolve) => (markRefreshed = resolve))
        return json(res, 200, {})
      }
      return json(res, 200, counters)
    }
    json(res, 404, { error: 'not_found' })
  })
  server.keepAliveTimeout = 60_000
  server.listen(0, '127.0.0.1', () => process.send?.({ port: (server.address() as AddressInfo).port }))
}

export interface TokenApi {
  url: string
  control<T>(control: Control): Promise<T>
  close(): void
}

/** Starts the server in a child process; `close()` ends that process. */
export async function startTokenApi(): Promise<TokenApi> {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['serve'], { execArgv: ['--import', 'tsx'], stdio: 'inherit' })
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (message) => resolve((message as { port: number }).port))
    child.once('exit', (code) => reject(new Error(`token API exited with ${code}`)))
  })
  const url = `http://127.0.0.1:${port}`
  return {
    url,
    async control<T>(control: Control) {
      const res = await fetch(`${url}/__control`, { method: 'POST', body: JSON.stringify(control) })
      return (await res.json()) as T
    },
    close: () => void child.kill(),
  }
}

if (process.argv[2] === 'serve') serve()
