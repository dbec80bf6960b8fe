/**
 * What the server keeps on disk is readable by its owner only: the data
 * folder 0700, the SQLite database and its -wal/-shm files 0600, the key
 * file 0600 — also when an older version left them 0755/0644.
 */
import { chmodSync, closeSync, existsSync, mkdtempSync, openSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, describe, expect, it } from 'vitest'
import { ensurePrivateDir } from '../src/data-files.ts'
import { openSqliteStore } from '../src/store/sqlite-store.ts'
import { loadSigningKeys } from '../src/tokens/keys.ts'
import { startInstance } from './helpers/instances.ts'

const root = mkdtempSync(join(tmpdir(), 'demo-files-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))

const mode = (path: string): string => (statSync(path).mode & 0o777).toString(8)

async function write(path: string): Promise<void> {
  const store = openSqliteStore(path)
  const { id } = await store.upsertUser({ username: 'u', passwordHash: 'h' })
  await store.createSession({ familyId: 'f', userId: id, tokenHash: 't', now: 0, tokenExpiresAt: 1, familyExpiresAt: 2 })
  expect(existsSync(`${path}-wal`)).toBe(true)
  expect(existsSync(`${path}-shm`)).toBe(true)
  expect([mode(path), mode(`${path}-wal`), mode(`${path}-shm`)]).toEqual(['600', '600', '600'])
  await store.close()
}

describe('the SQLite store', () => {
  it('creates its folder 0700 and the database, -wal and -shm 0600', async () => {
    const path = join(root, 'new', 'nested', 'demo.db')
    await write(path)
    expect(mode(join(root, 'new', 'nested'))).toBe('700')
    expect(mode(join(root, 'new'))).toBe('700')
  })

  it('tightens a database and WAL files left at 0644', async () => {
    const path = join(root, 'old.db')
    const db = new Database(path)
    db.pragma('journal_mode = WAL')
    db.exec('CREATE TABLE t (x)')
    db.exec('INSERT INTO t VALUES (1)')
    for (const file of [path, `${path}-wal`, `${path}-shm`]) chmodSync(file, 0o644)
    expect(mode(path)).toBe('644')
    db.close()
    if (!existsSync(`${path}-wal`)) closeSync(openSync(`${path}-wal`, 'a', 0o644))
    await write(path)
  })
})

describe('the data folder and the key file', () => {
  it('ensurePrivateDir creates 0700 and, when told to, tightens an existing 0755 folder', () => {
    const dir = join(root, 'legacy')
    expect(ensurePrivateDir(dir, { tighten: false })).toBe(0o700)
    chmodSync(dir, 0o755)
    expect(ensurePrivateDir(dir, { tighten: false })).toBe(0o755)
    expect(ensurePrivateDir(dir, { tighten: true })).toBe(0o700)
  })

  it('a key file left at 0644 is tightened when loaded', async () => {
    const file = join(root, 'keys', 'signing-key.json')
    await loadSigningKeys({ file })
    expect(mode(join(root, 'keys'))).toBe('700')
    chmodSync(file, 0o644)
    await loadSigningKeys({ file })
    expect(mode(file)).toBe('600')
  })

  it('the server process: folder 0700, database files and key 0600, a warning for a folder others can read', { timeout: 90_000 }, async () => {
    const dir = join(root, 'server-data')
    const proc = await startInstance({ DB_PATH: join(dir, 'demo.db'), DEMO_PASSWORD: 'not printed' })
    try {
      expect(mode(dir)).toBe('700')
      expect(mode(join(dir, 'signing-key.json'))).toBe('600')
      expect(mode(join(dir, 'demo.db'))).toBe('600')
      expect(mode(join(dir, 'demo.db-wal'))).toBe('600')
      expect(mode(join(dir, 'demo.db-shm'))).toBe('600')
      expect(proc.output()).not.toContain('warning')
    } finally {
      await proc.stop()
    }
    chmodSync(dir, 0o755)
    const again = await startInstance({ DB_PATH: join(dir, 'demo.db') })
    try {
      // A folder the user chose is never chmod-ed behind their back (it may be shared): they are told.
      expect(again.output()).toContain(`warning: ${dir} is readable by other users (mode 755); chmod 700 it`)
    } finally {
      await again.stop()
    }
  })
})
