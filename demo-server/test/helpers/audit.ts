/**
 * Helpers of the audit-trail tests: reading every stored row as it is in the
 * database (not through the store's own mapping), and finding secrets in them.
 */
import Database from 'better-sqlite3'
import type { PostgresStore } from '../../src/store/postgres-store.ts'
import type { Store } from '../../src/store/types.ts'

export const ADMIN_TOKEN = 'admin-credential-for-tests-0123456789abcdef'
export const METRICS_TOKEN = 'metrics-credential-for-tests-0123456789abcdef'

/** Every column of every row of `audit_events`, as the database holds it. */
export async function rawAuditRows(store: Store, sqliteFile?: string): Promise<Array<Record<string, unknown>>> {
  if ('pool' in store) return (await (store as PostgresStore).pool.query('SELECT * FROM audit_events ORDER BY id')).rows
  if (sqliteFile) {
    const db = new Database(sqliteFile, { readonly: true })
    try {
      return db.prepare('SELECT * FROM audit_events ORDER BY id').all() as Array<Record<string, unknown>>
    } finally {
      db.close()
    }
  }
  // The memory store has no columns: its events as objects, every field of them.
  const rows: Array<Record<string, unknown>> = []
  const seen = new Set<number>()
  for (const userId of ids.get(store) ?? []) {
    for (const event of await store.listAuditEvents({ userId, limit: 10_000 })) {
      if (!seen.has(event.id)) rows.push({ ...event, detail: JSON.stringify(event.detail) })
      seen.add(event.id)
    }
  }
  return rows
}

const ids = new WeakMap<Store, string[]>()
/** The memory store can only be read by user: tell it which ones to read. */
export function rememberIds(store: Store, userIds: string[]): void {
  ids.set(store, userIds)
}

/** Every window of `size` characters of `secret` (a token cut short still leaks). */
function windows(secret: string, size = 12): string[] {
  if (secret.length <= size) return [secret]
  return Array.from({ length: secret.length - size + 1 }, (_, i) => secret.slice(i, i + size))
}

/**
 * Scans every column of every row for every secret, and for any 12-character
 * piece of one. Returns what it found ("row 3, column detail: refresh token hash"), empty when clean.
 */
export function findSecrets(rows: Array<Record<string, unknown>>, secrets: Record<string, string[]>): string[] {
  const found: string[] = []
  rows.forEach((row, i) => {
    for (const [column, value] of Object.entries(row)) {
      if (value === null || value === undefined) continue
      const text = typeof value === 'string' ? value : JSON.stringify(value)
      for (const [what, list] of Object.entries(secrets)) {
        for (const secret of list) {
          if (secret.length === 0) continue
          if (windows(secret).some((piece) => text.includes(piece))) found.push(`row ${i + 1}, column ${column}: ${what}`)
        }
      }
    }
  })
  return [...new Set(found)]
}
