import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, afterEach, describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('..', import.meta.url))
const dir = mkdtempSync(join(tmpdir(), 'demo-server-proc-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

interface Proc {
  child: ChildProcess
  url: string
  output: () => string
  exited: Promise<number | null>
}

const children: ChildProcess[] = []
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL')
})

/** Runs src/server.ts the way `npm run demo` does (tsx), on a random port. */
function run(env: Record<string, string>): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: root,
    env: { ...process.env, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.push(child)
  let output = ''
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  return { child, output: () => output, exited }
}

async function start(env: Record<string, string>): Promise<Proc> {
  const proc = run(env)
  const deadline = Date.now() + 40_000
  while (Date.now() < deadline) {
    const match = /listening on (http:\/\/\S+)/.exec(proc.output())
    if (match) return { ...proc, url: match[1]! }
    if (proc.child.exitCode !== null) break
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`server did not start:\n${proc.output()}`)
}

// Each test starts a real process (tsx + default scrypt): give a loaded machine room.
describe('src/server.ts (the process behind npm run demo)', { timeout: 60_000 }, () => {
  const dbPath = join(dir, 'demo.db')
  const env = { DB_PATH: dbPath, DEMO_USERNAME: 'tester', DEMO_PASSWORD: 'correct horse' }
  let savedRefresh = ''

  it('with ADMIN_TOKEN and METRICS_TOKEN: says so (never printing them), serves /metrics and the admin routes on its port', async () => {
    const admin = 'admin-token-for-the-server-test-0123456789'
    const metrics = 'metrics-token-for-the-server-test-0123456789'
    const proc = await start({ ...env, DB_PATH: join(dir, 'monitored', 'demo.db'), ADMIN_TOKEN: admin, METRICS_TOKEN: metrics, INSTANCE_ID: 'srv-1' })
    expect(proc.output()).toContain('monitoring (instance srv-1): audit trail on, kept 30 days; /admin on (ADMIN_TOKEN); /metrics on (METRICS_TOKEN)')
    const login = await fetch(`${proc.url}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'tester', password: 'correct horse' }) })
    const { access_token } = (await login.json()) as { access_token: string }
    const sub = (JSON.parse(Buffer.from(access_token.split('.')[1]!, 'base64url').toString()) as { sub: string }).sub
    const scraped = await fetch(`${proc.url}/metrics`, { headers: { authorization: `Bearer ${metrics}` } })
    expect(scraped.status).toBe(200)
    expect(await scraped.text()).toContain('silent_refresh_logins_total{result="ok",instance_id="srv-1"} 1')
    const events = await fetch(`${proc.url}/admin/sessions/${sub}/events`, { headers: { authorization: `Bearer ${admin}` } })
    expect(((await events.json()) as { events: Array<{ type: string }> }).events.map((e) => e.type)).toEqual(['login'])
    proc.child.kill('SIGTERM')
    expect(await proc.exited).toBe(0)
    expect(proc.output()).not.toContain(admin)
    expect(proc.output()).not.toContain(metrics)
  })

  it('starts, prints the URL and the demo user (never its password), creates the key next to the database', async () => {
    const proc = await start(env)
    expect(proc.output()).toContain('demo user: tester (password from DEMO_PASSWORD)')
    expect(proc.output()).not.toContain('correct horse')
    expect(proc.output()).toContain(`database: ${dbPath}`)
    expect(proc.output()).toMatch(/signing key \(kid [\w-]+\): new, saved to .*signing-key\.json/)
    expect(proc.output()).toMatch(/monitoring \(instance .+:0\): audit trail on, kept 30 days; \/admin off; \/metrics off/)
    expect(existsSync(join(dir, 'signing-key.json'))).toBe(true)

    const login = await fetch(`${proc.url}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'tester', password: 'correct horse' }),
    })
    expect(login.status).toBe(200)
    const tokens = (await login.json()) as { access_token: string; refresh_token: string }
    savedRefresh = tokens.refresh_token

    // SIGTERM while a slow request is in flight: it is answered, then the process exits 0.
    const slow = fetch(`${proc.url}/api/slow?delay_ms=1500`, { headers: { authorization: `Bearer ${tokens.access_token}` } })
    await new Promise((r) => setTimeout(r, 300))
    proc.child.kill('SIGTERM')
    const res = await slow
    expect(res.status).toBe(200)
    expect(((await res.json()) as { delay_ms: number }).delay_ms).toBe(1500)
    expect(await proc.exited).toBe(0)
    await expect(fetch(`${proc.url}/healthz`)).rejects.toThrow()
  })

  it('restarts on the same database and key: the earlier session still refreshes', async () => {
    expect(savedRefresh).not.toBe('')
    const proc = await start(env)
    expect(proc.output()).toMatch(/signing key \(kid [\w-]+\): from .*signing-key\.json/)
    const res = await fetch(`${proc.url}/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `grant_type=refresh_token&refresh_token=${savedRefresh}`,
    })
    expect(res.status).toBe(200)
    proc.child.kill('SIGINT')
    expect(await proc.exited).toBe(0)
  })

  it('shutdown: a request still running after SHUTDOWN_TIMEOUT, or a second signal, ends the process with code 1', async () => {
    const proc = await start({ ...env, SHUTDOWN_TIMEOUT: '300ms', SLOW_MAX_DELAY_MS: '20000' })
    const login = await fetch(`${proc.url}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'tester', password: 'correct horse' }),
    })
    const { access_token: access } = (await login.json()) as { access_token: string }
    const slow = fetch(`${proc.url}/api/slow?delay_ms=15000`, { headers: { authorization: `Bearer ${access}` } }).catch((err: unknown) => err)
    await new Promise((r) => setTimeout(r, 300))
    const signalled = performance.now()
    proc.child.kill('SIGTERM')
    expect(await proc.exited, proc.output()).toBe(1)
    expect(performance.now() - signalled).toBeLessThan(10_000)
    expect(await slow).toBeInstanceOf(Error)
    expect(proc.output()).toContain('killed by timeout (300ms)')

    const second = await start(env)
    const held = fetch(`${second.url}/api/slow?delay_ms=5000`, { headers: { authorization: `Bearer ${access}` } }).catch((err: unknown) => err)
    await new Promise((r) => setTimeout(r, 300))
    second.child.kill('SIGTERM')
    await new Promise((r) => setTimeout(r, 300))
    second.child.kill('SIGINT')
    expect(await second.exited, second.output()).toBe(1)
    await held
  })

  it('refuses a bad environment variable with a message naming it, exit code 1', async () => {
    const proc = run({ ...env, ACCESS_TOKEN_TTL: 'soon' })
    expect(await proc.exited).toBe(1)
    expect(proc.output()).toContain('ACCESS_TOKEN_TTL must be a duration')
  })
})
