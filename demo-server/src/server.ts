import type { AddressInfo } from 'node:net'
import closeWithGrace from 'close-with-grace'
import { dirname } from 'node:path'
import { buildApp } from './app.ts'
import { ConfigError, DEFAULT_DATA_DIR, loadConfig, redactDatabaseUrl, type ServerConfig } from './config.ts'
import { ensurePrivateDir } from './data-files.ts'
import { createScryptHasher } from './auth/password.ts'
import { seedUser } from './auth/seed.ts'
import { openSqliteStore } from './store/sqlite-store.ts'
import { openPostgresStore } from './store/postgres-store.ts'
import { createPostgresRateLimitStore } from './store/postgres-rate-limit.ts'
import type { Store } from './store/types.ts'
import type { AppOptions } from './app.ts'
import { loadSigningKeys } from './tokens/keys.ts'

/**
 * Opens the configured store. PostgreSQL (several instances on one database)
 * also keeps the rate-limit counters, so every instance counts together.
 */
async function openStore(config: ServerConfig): Promise<{ store: Store; description: string; rateLimitStore?: AppOptions['rateLimitStore'] }> {
  if (config.store.kind === 'sqlite') return { store: openSqliteStore(config.dbPath), description: config.dbPath }
  const { url, poolMax, connectTimeoutMs, statementTimeoutMs, applicationName } = config.store
  const store = await openPostgresStore({
    connectionString: url,
    poolMax,
    connectTimeoutMs,
    statementTimeoutMs,
    applicationName,
    onIdleError: (err) => console.error(`demo-server: an idle PostgreSQL connection failed (${err.message}); it will be replaced`),
  })
  const migrations = store.migrationsApplied.length ? `migrations ${store.migrationsApplied.join(', ')} applied` : 'schema up to date'
  return {
    store,
    description: `PostgreSQL ${redactDatabaseUrl(url)} (pool of ${poolMax}; ${migrations}; rate limits shared)`,
    rateLimitStore: createPostgresRateLimitStore(store.pool),
  }
}

/** The banner's line about the audit trail, the admin routes and /metrics (never their credentials). */
function monitoringLine(m: NonNullable<ServerConfig['app']['monitoring']>): string {
  const audit = m.audit === false ? 'off' : `on, kept ${Math.round((m.auditRetentionMs ?? 0) / 86_400_000)} days`
  return `  monitoring (instance ${m.instanceId}): audit trail ${audit}; /admin ${m.adminToken ? 'on (ADMIN_TOKEN)' : 'off'}; /metrics ${m.metricsToken ? 'on (METRICS_TOKEN)' : 'off'}`
}

/** How often expired token families are deleted. */
const PURGE_INTERVAL_MS = 10 * 60_000
async function main(): Promise<void> {
  let config
  try {
    config = loadConfig(process.env, process.argv.slice(2))
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`demo-server: ${err.message}`)
      process.exit(1)
    }
    throw err
  }

  // Owner-only data folders; the default one is also repaired if an older version left it at 0755.
  const warnings: string[] = []
  const folders = new Set<string>()
  if (config.store.kind === 'sqlite' && config.dbPath !== ':memory:') folders.add(dirname(config.dbPath))
  if (config.keyFile) folders.add(dirname(config.keyFile))
  for (const dir of folders) {
    const mode = ensurePrivateDir(dir, { tighten: dir === DEFAULT_DATA_DIR })
    if (mode & 0o077) warnings.push(`  warning: ${dir} is readable by other users (mode ${mode.toString(8)}); chmod 700 it`)
  }

  let opened
  try {
    opened = await openStore(config)
  } catch (err) {
    console.error(`demo-server: cannot open the ${config.store.kind} store: ${err instanceof Error ? err.message : String(err)}`)
    process.exit(1)
  }
  const { store, description, rateLimitStore } = opened
  const keys = await loadSigningKeys({ privateKey: config.privateKey, file: config.keyFile })
  const passwordHasher = createScryptHasher()
  await seedUser(store, passwordHasher, config.demoUsername, config.demoPassword)

  const app = await buildApp({
    ...config.app,
    store,
    keys,
    passwordHasher,
    logger: { level: config.logLevel },
    ...(rateLimitStore ? { rateLimitStore } : {}),
  })

  const purge = async (): Promise<void> => {
    try {
      const purged = await store.purgeExpired(Date.now())
      if (purged > 0) app.log.info({ purged }, 'expired token families deleted')
    } catch (err) {
      app.log.error({ err }, 'purging expired token families failed')
    }
  }
  await purge()
  const purgeTimer = setInterval(purge, PURGE_INTERVAL_MS)
  purgeTimer.unref()

  await app.listen({ port: config.port, host: config.host })
  const { port } = app.server.address() as AddressInfo
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`

  const keyNote = {
    env: 'from JWT_PRIVATE_KEY',
    file: `from ${config.keyFile}`,
    created: `new, saved to ${config.keyFile}`,
    ephemeral: 'new, in memory only (tokens end with the process)',
  }[keys.origin]
  console.log(
    [
      '',
      `  silent-refresh demo server listening on ${url}`,
      // Never the password itself: output ends up in terminals, CI logs and screen shares.
      `  demo user: ${config.demoUsername} (${config.demoPasswordFromEnv ? 'password from DEMO_PASSWORD' : 'the default password, "demo"; set DEMO_PASSWORD to change it'})`,
      `  database: ${description}`,
      `  signing key (kid ${keys.kid}): ${keyNote}`,
      `  refresh token transport: ${config.app.refreshTokenTransport}; access token TTL ${config.app.accessTokenTtl}s`,
      `  DPoP: ${config.app.dpop}${config.app.dpop === 'off' ? '' : `; nonces ${config.app.dpopNonce ? 'required' : 'off'}; htu origin ${config.app.publicOrigins?.length ? config.app.publicOrigins.join(', ') : 'from the request'}`}`,
      `  demo levers (/demo/*): ${config.app.demoLevers ? 'on, for the demo page; each acts on the caller\'s own session' : 'off (npm run demo turns them on)'}`,
      monitoringLine(config.app.monitoring ?? {}),
      ...warnings,
      '',
    ].join('\n'),
  )

  // Graceful shutdown the Fastify way (close-with-grace, as fastify/demo does): on SIGINT, SIGTERM
  // and the other termination signals, or an uncaught error, stop accepting connections, answer
  // the requests in flight, close the store, exit 0 (1 after an error). A second signal, or
  // requests still running after SHUTDOWN_TIMEOUT (10 s), exits 1 at once.
  closeWithGrace({ delay: config.shutdownTimeoutMs, logger: { error: (message: unknown) => app.log.error(message) } }, async ({ signal, err }) => {
    if (err) app.log.error({ err }, 'shutting down after an uncaught error')
    else app.log.info({ signal }, 'shutting down: finishing in-flight requests')
    clearInterval(purgeTimer)
    await app.close()
    await store.close()
  })
}

await main()
