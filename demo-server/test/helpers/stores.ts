/**
 * The two real stores a test can run against: SQLite (a file in a temporary
 * folder) and PostgreSQL (one throwaway cluster per test file, started on
 * first use, every test on emptied tables). Call {@link useStores} at the top
 * level of a test file; it registers the clean-up.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, it } from 'vitest'
import { openPostgresStore, type PostgresStore } from '../../src/store/postgres-store.ts'
import { openSqliteStore } from '../../src/store/sqlite-store.ts'
import type { Store } from '../../src/store/types.ts'
import { postgresRequired, postgresUnavailableReason, printSkipNotice, startPostgres, type TestPostgres } from './postgres.ts'

export type StoreKind = 'sqlite' | 'postgres'

export interface StoreFactory {
  kind: StoreKind
  /** A store on empty tables; closed by the caller. */
  open(): Promise<Store>
}

/** Truncates every table the stores own, so each test starts empty. */
export async function emptyPostgres(store: PostgresStore): Promise<void> {
  const { rows } = await store.pool.query<{ tablename: string }>(
    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migrations'",
  )
  await store.pool.query(`TRUNCATE ${rows.map((r) => r.tablename).join(', ')}`)
}

/**
 * SQLite always; PostgreSQL when its binaries are installed (required under
 * CI=true, else the file prints a notice and runs SQLite only).
 */
export function useStores(): StoreFactory[] {
  const dir = mkdtempSync(join(tmpdir(), 'demo-stores-'))
  let files = 0
  let postgres: Promise<{ server: TestPostgres; url: string }> | undefined
  afterAll(async () => {
    if (postgres) await (await postgres).server.destroy()
    rmSync(dir, { recursive: true, force: true })
  })

  describe('PostgreSQL for this file', () => {
    it.runIf(postgresUnavailableReason !== null)('is installed (required under CI=true; skipped elsewhere)', () => {
      printSkipNotice('PostgreSQL cases')
      if (postgresRequired) throw new Error(`CI=true but ${postgresUnavailableReason}`)
    })
  })

  const factories: StoreFactory[] = [{ kind: 'sqlite', open: async () => openSqliteStore(join(dir, `store-${++files}.db`)) }]
  if (!postgresUnavailableReason) {
    factories.push({
      kind: 'postgres',
      async open() {
        postgres ??= startPostgres().then(async (server) => ({ server, url: await server.createDatabase('stores') }))
        const store = await openPostgresStore({ connectionString: (await postgres).url, poolMax: 5 })
        await emptyPostgres(store)
        return store
      },
    })
  }
  return factories
}

/** Whether the family is live at `now`: exists, not revoked, before its absolute end. */
export async function isSessionActive(store: Store, familyId: string, now: number): Promise<boolean> {
  const session = await store.findSession(familyId)
  return session !== undefined && session.revokedAt === null && now < session.expiresAt
}
