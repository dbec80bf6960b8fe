/**
 * A real, throwaway PostgreSQL for tests and benchmarks: `initdb` into a temp
 * directory and `pg_ctl` on a free loopback port, stopped and deleted in
 * teardown. No mocks.
 *
 * Binaries: `PG_BIN` if set, else the newest `/usr/lib/postgresql/<v>/bin`
 * (Debian/Ubuntu `postgresql` package), else `initdb` on the PATH. initdb
 * refuses to run as root, so under root every command runs as the `postgres`
 * system user (created by the Debian package) through `runuser`.
 *
 * Without the binaries, {@link postgresUnavailableReason} says why; test files
 * skip with a notice, except under `CI=true`, where a missing PostgreSQL fails.
 */
import { execFile, execFileSync } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import pg from 'pg'

const run = promisify(execFile)

function findBinDir(): string | null {
  const fromEnv = process.env.PG_BIN
  if (fromEnv) return existsSync(join(fromEnv, 'initdb')) ? fromEnv : null
  const debian = '/usr/lib/postgresql'
  if (existsSync(debian)) {
    const versions = readdirSync(debian)
      .filter((v) => existsSync(join(debian, v, 'bin', 'initdb')))
      .sort((a, b) => Number(b) - Number(a))
    if (versions[0]) return join(debian, versions[0], 'bin')
  }
  try {
    const found = execFileSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' }).trim()
    return found ? join(found, '..') : null
  } catch {
    return null
  }
}

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0

function postgresUser(): { uid: number; gid: number } | null {
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim())
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim())
    return { uid, gid }
  } catch {
    return null
  }
}

const binDir = findBinDir()
const pgUser = isRoot ? postgresUser() : null

/** Why a test PostgreSQL cannot be started here, or `null` when it can. */
export const postgresUnavailableReason: string | null = !binDir
  ? 'PostgreSQL binaries (initdb, pg_ctl) not found: install Debian\'s "postgresql" package or set PG_BIN'
  : isRoot && !pgUser
    ? 'running as root and there is no "postgres" user to run initdb as (initdb refuses root)'
    : null

/** Under CI a missing PostgreSQL is a failure; elsewhere the tests skip. */
export const postgresRequired = process.env.CI === 'true'

let noticePrinted = false
/** Prints, once per file, that the PostgreSQL tests are skipped and why. */
export function printSkipNotice(what: string): void {
  if (noticePrinted || !postgresUnavailableReason) return
  noticePrinted = true
  console.warn(`\n  NOTICE: ${what} skipped: ${postgresUnavailableReason}.\n`)
}

/** A free TCP port on 127.0.0.1 (the kernel picks; closed again before use). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))))
    })
  })
}

async function pgCommand(name: string, args: string[]): Promise<string> {
  const bin = join(binDir!, name)
  const [file, argv] = isRoot ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args]
  try {
    const { stdout, stderr } = await run(file, argv, { encoding: 'utf8', timeout: 60_000 })
    return stdout + stderr
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string }
    throw new Error(`${name} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`)
  }
}

export interface TestPostgres {
  port: number
  /** Data directory (deleted by `destroy()`). */
  dir: string
  /** `postgres://postgres@127.0.0.1:<port>/<database>` (trust authentication on loopback). */
  url(database?: string): string
  /** Creates an empty database and returns its URL. */
  createDatabase(name: string): Promise<string>
  /** Runs one SQL statement on a short-lived connection. */
  sql<R extends pg.QueryResultRow = pg.QueryResultRow>(database: string, text: string, values?: unknown[]): Promise<R[]>
  /** `pg_ctl stop -m fast`: every connection is closed by the server (for lost-connection tests). */
  stop(): Promise<void>
  /** Starts it again on the same port and data. */
  start(): Promise<void>
  /** Stops (immediate mode) and deletes the data directory. */
  destroy(): Promise<void>
}

/**
 * Starts a PostgreSQL cluster for one test file or benchmark.
 * `durable: false` (the default for tests) turns fsync and synchronous_commit
 * off: faster, and a crash of a throwaway cluster loses nothing of value.
 */
export async function startPostgres(options: { durable?: boolean; maxConnections?: number } = {}): Promise<TestPostgres> {
  if (postgresUnavailableReason) throw new Error(`cannot start PostgreSQL: ${postgresUnavailableReason}`)
  const dir = mkdtempSync(join(tmpdir(), 'demo-pg-'))
  if (pgUser) chownSync(dir, pgUser.uid, pgUser.gid)
  const data = join(dir, 'data')
  await pgCommand('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions'])
  const port = await freePort()
  const settings = [
    '-c listen_addresses=127.0.0.1',
    `-p ${port}`,
    `-k ${dir}`,
    `-c max_connections=${options.maxConnections ?? 200}`,
    ...(options.durable ? [] : ['-c fsync=off', '-c synchronous_commit=off', '-c full_page_writes=off']),
  ].join(' ')
  const log = join(dir, 'server.log')
  const start = async (): Promise<void> => {
    await pgCommand('pg_ctl', ['-D', data, '-l', log, '-w', '-t', '60', '-o', settings, 'start'])
  }
  await start()

  const url = (database = 'postgres'): string => `postgres://postgres@127.0.0.1:${port}/${database}`
  const sql = async <R extends pg.QueryResultRow>(database: string, text: string, values?: unknown[]): Promise<R[]> => {
    const client = new pg.Client({ connectionString: url(database) })
    await client.connect()
    try {
      return (await client.query<R>(text, values)).rows
    } finally {
      await client.end()
    }
  }
  let running = true
  return {
    port,
    dir,
    url,
    sql,
    async createDatabase(name) {
      if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`bad database name ${name}`)
      await sql('postgres', `CREATE DATABASE ${name}`)
      return url(name)
    },
    async stop() {
      await pgCommand('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop'])
      running = false
    },
    async start() {
      await start()
      running = true
    },
    async destroy() {
      if (running) await pgCommand('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => {})
      running = false
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
