/**
 * Real demo-server processes (`src/server.ts` through tsx, as `npm run demo`
 * runs it) on loopback ports, for the multi-instance tests and the PostgreSQL
 * benchmark. Imports nothing from src/, so the root typecheck can follow it
 * from bench/.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { request } from 'node:http'
import { fileURLToPath } from 'node:url'

/** The demo-server folder. */
export const DEMO_SERVER_ROOT = fileURLToPath(new URL('../..', import.meta.url))

export interface Instance {
  child: ChildProcess
  /** `http://127.0.0.1:<port>` as printed by the server. */
  url: string
  output(): string
  exited: Promise<number | null>
  /** SIGKILL: no graceful shutdown, in-flight requests are cut off. */
  kill(): Promise<void>
  /** SIGTERM and wait for the exit. */
  stop(): Promise<void>
}

/**
 * Starts one server process with `env` on top of the current environment
 * (`HOST=127.0.0.1`, `PORT=0`, `LOG_LEVEL=warn` unless given) and resolves
 * once it prints its URL.
 */
export async function startInstance(env: Record<string, string>, timeoutMs = 60_000): Promise<Instance> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: DEMO_SERVER_ROOT,
    env: { ...process.env, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const match = /listening on (http:\/\/\S+)/.exec(output)
    if (match) {
      const stopWith = async (signal: NodeJS.Signals): Promise<void> => {
        if (child.exitCode === null && child.signalCode === null) child.kill(signal)
        await exited
      }
      return { child, url: match[1]!, output: () => output, exited, kill: () => stopWith('SIGKILL'), stop: () => stopWith('SIGTERM') }
    }
    if (child.exitCode !== null) break
    await new Promise((r) => setTimeout(r, 50))
  }
  child.kill('SIGKILL')
  throw new Error(`demo-server did not start:\n${output}`)
}

/** POST /auth/token (form), as RFC 6749 §6 clients send it. */
export function refreshAt(url: string, refreshToken: string): Promise<Response> {
  return fetch(`${url}/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }),
  })
}

/** POST /auth/login (JSON). */
export function loginAt(url: string, username: string, password: string): Promise<Response> {
  return fetch(`${url}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  })
}

/** POST /auth/login (JSON) from a chosen loopback source address (fetch cannot choose one). */
export function loginFrom(url: string, username: string, password: string, localAddress: string): Promise<{ status: number; body: string }> {
  const target = new URL(`${url}/auth/login`)
  const body = JSON.stringify({ username, password })
  return new Promise((resolve, reject) => {
    const req = request(
      { host: target.hostname, port: target.port, path: target.pathname, method: 'POST', localAddress, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => (text += chunk))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }))
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

/** GET /api/me with a bearer token. */
export function meAt(url: string, accessToken: string): Promise<Response> {
  return fetch(`${url}/api/me`, { headers: { authorization: `Bearer ${accessToken}` } })
}

/**
 * Asks `GET /api/me` with the token every 10 ms until it answers 401, and
 * returns how long that took after `since` (performance.now()), or Infinity
 * if it still answered 200 after `withinMs`.
 */
export async function msUntilRefused(url: string, accessToken: string, since: number, withinMs = 3000): Promise<number> {
  while (performance.now() - since < withinMs) {
    const res = await meAt(url, accessToken)
    if (res.status === 401) return performance.now() - since
    if (res.status !== 200) throw new Error(`GET /api/me answered ${res.status}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  return Infinity
}
