/**
 * Child process for the demo-server benchmark: the real demo app (buildApp,
 * SQLite store in a temporary file, rate limits lifted), once with the audit
 * trail and metrics on and once with both off, and, in the same
 * process, two bare Fastify apps: GET /api/me returning the same JSON through
 * the same response schema, and POST /auth/token parsing the same form body
 * and returning a token response of the same size through the same schema.
 * All three with the same logger settings (pino at `warn`, so no request
 * lines on either side). All on 127.0.0.1.
 *
 * The parent kills this process when done and removes the temporary directory.
 * The demo server's modules come from ./demo-modules.ts.
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import Fastify, { type FastifyInstance } from 'fastify'
import formbody from '@fastify/formbody'
import { loadDemoModules } from './demo-modules.js'

interface Sqlite {
  prepare(sql: string): { get(): { n: number } }
  close(): void
}


export const USER = { username: 'bench', password: 'bench-password' }
/** Far above anything the benchmark sends: the limits would otherwise answer 429 within a second. */
export const UNLIMITED = { max: 1_000_000_000, windowMs: 60_000 }
/** The same logger settings for the demo app and the bare apps. */
const LOGGER = { level: 'warn' }

async function main(): Promise<void> {
  const { buildApp, openSqliteStore, generateSigningKeys, createScryptHasher, seedUser } = await loadDemoModules()
  const dir = mkdtempSync(join(tmpdir(), 'silent-refresh-bench-'))
  const dbPath = join(dir, 'bench.db')
  // Cheap scrypt: logins are set-up here, not measured; the routes measured never hash.
  const passwordHasher = createScryptHasher({ N: 1024, r: 8, p: 1 })
  const keys = await generateSigningKeys()
  /** The demo app on its own SQLite file; `monitoring` on: the audit trail and /metrics (issue 16), off: neither. */
  const demoApp = async (path: string, monitoring: boolean) => {
    const store = openSqliteStore(path)
    await seedUser(store, passwordHasher, USER.username, USER.password)
    const app = await buildApp({
      store,
      keys,
      passwordHasher,
      logger: LOGGER,
      accessTokenTtl: 3600,
      rateLimits: {
        loginPerIp: UNLIMITED,
        loginFailuresPerAccount: UNLIMITED,
        loginFailuresPerAccountAndAddress: UNLIMITED,
        refreshPerIp: UNLIMITED,
      },
      monitoring: monitoring ? { audit: true, metricsToken: 'bench-metrics-credential-0123456789abcdef' } : { audit: false },
    })
    await app.listen({ port: 0, host: '127.0.0.1' })
    return app
  }
  const demo = await demoApp(dbPath, true)
  const demoOff = await demoApp(join(dir, 'bench-off.db'), false)

  const me = { sub: '00000000-0000-4000-8000-000000000000', username: USER.username, sid: 'YD3iQTQBT2yyFfn0gSWVrg', exp: 1795488320 }
  const meSchema = {
    type: 'object',
    properties: { sub: { type: 'string' }, username: { type: 'string' }, sid: { type: 'string' }, exp: { type: 'integer' } },
  }
  const bareGet = Fastify({ logger: LOGGER })
  bareGet.get('/api/me', { schema: { response: { 200: meSchema } } }, async () => me)
  await bareGet.listen({ port: 0, host: '127.0.0.1' })

  // A token response as long as the demo's (an EdDSA JWT of ~360 characters and a 43-character refresh token).
  const tokens = { access_token: 'x'.repeat(360), token_type: 'Bearer', expires_in: 3600, refresh_token: 'y'.repeat(43) }
  const tokenSchema = {
    type: 'object',
    properties: { access_token: { type: 'string' }, token_type: { type: 'string' }, expires_in: { type: 'integer' }, refresh_token: { type: 'string' } },
  }
  const barePost = Fastify({ logger: LOGGER })
  await barePost.register(formbody)
  barePost.post('/auth/token', { schema: { response: { 200: tokenSchema } } }, async () => tokens)
  await barePost.listen({ port: 0, host: '127.0.0.1' })

  const port = (app: FastifyInstance) => (app.server.address() as AddressInfo).port
  process.send?.({ demo: port(demo), demoOff: port(demoOff), bareGet: port(bareGet), barePost: port(barePost), dir })

  // The parent went away (or is done): end, so no server outlives the benchmark.
  process.on('disconnect', () => process.exit(0))
  process.on('message', async (message: { type: string }) => {
    if (message.type === 'revoked') {
      // Reuse detection revokes a family (RFC 9700 §4.14.2); logout is never called here.
      const { default: Database } = (await import('better-sqlite3' as string)) as { default: new (path: string, options: object) => Sqlite }
      const db = new Database(dbPath, { readonly: true })
      const { n } = db.prepare('SELECT count(*) AS n FROM token_families WHERE revoked_at IS NOT NULL').get()
      db.close()
      process.send?.({ revoked: n })
    }
  })
}

// Imported by the parent for USER only: run the servers only as the forked child.
if (process.send) await main()
