// DESIGN 11 in a real Node process, with the built package (ESM and CJS): a
// script whose request waits for a refresh must not exit before it settles;
// a script with a live session and nothing left to do exits at once.
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { expectWithin, within } from '../helpers/bounds.js'

const dist = fileURLToPath(new URL('../../dist/', import.meta.url))
let dir: string
let server: Server
let url: string
let refreshCalls = 0
/** How many /auth/token calls answer 503 before one answers 200. */
let failFirst = 0

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'silent-refresh-exit-'))
  server = createServer((req, res) => {
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' })
      res.end(JSON.stringify(body))
    }
    if (req.url === '/auth/token') {
      refreshCalls++
      return refreshCalls <= failFirst ? json(503, { error: 'temporarily_unavailable' }) : json(200, { access_token: 'fresh', expires_in: 60 })
    }
    json(req.headers.authorization === 'Bearer fresh' ? 200 : 401, {})
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true })
  await new Promise<void>((resolve) => server.close(() => resolve()))
})
beforeEach(() => {
  refreshCalls = 0
})

/** Runs `body` as an ES module or a CommonJS script with the package in scope; resolves with its exit code and output. */
function run(kind: 'esm' | 'cjs', body: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const file = join(dir, `script-${Math.random().toString(36).slice(2)}.${kind === 'esm' ? 'mjs' : 'cjs'}`)
  const load =
    kind === 'esm'
      ? `import { createTokenManager, refreshTokenGrant } from ${JSON.stringify(join(dist, 'index.js'))}\nimport { createAuthFetch } from ${JSON.stringify(join(dist, 'fetch.js'))}`
      : `const { createTokenManager, refreshTokenGrant } = require(${JSON.stringify(join(dist, 'index.cjs'))})\nconst { createAuthFetch } = require(${JSON.stringify(join(dist, 'fetch.cjs'))})`
  writeFileSync(file, kind === 'esm' ? `${load}\n${body}` : `${load}\n;(async () => {\n${body}\n})()`)
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk))
    child.on('exit', (code) => resolve({ code, stdout, stderr }))
  })
}

const script = (url: string) => `
  const manager = createTokenManager({
    refresh: refreshTokenGrant({ url: '${url}/auth/token' }),
    retry: { attempts: 2, baseDelayMs: 400 },
  })
  await manager.setTokens({ accessToken: 'stale', refreshToken: 'r1', expiresAt: Date.now() - 1 })
  const authFetch = createAuthFetch(manager, { allowedOrigins: ['${url}'] })
  const res = await authFetch('${url}/api/me')
  console.log('status ' + res.status)
`

describe.skipIf(!existsSync(join(dist, 'index.js')))('a Node script (needs `npm run build`)', () => {
  describe.each(['esm', 'cjs'] as const)('%s', (kind) => {
    it('regression: a refresh that got a 503 keeps the process alive through its backoff; the request is not silently lost', async () => {
      failFirst = 1
      const result = await within(30_000, run(kind, script(url)))
      expect(result.stderr).toBe('')
      expect(result.stdout.trim()).toBe('status 200')
      expect(result.code).toBe(0)
      expect(refreshCalls).toBe(2)
    })

    it('with a live session and nothing left to do, it exits at once (idle timers are unref\'d)', async () => {
      failFirst = 0
      const started = Date.now()
      const result = await within(30_000, run(kind, `${script(url)}\nawait authFetch('${url}/api/me')`))
      expect(result.stdout.trim()).toBe('status 200')
      expect(result.code).toBe(0)
      // Exits when the work is done, not at the end of the 60 s token nor of a 15 s refresh timeout.
      expectWithin(started, 10_000, 'the script')
    })
  })
})
