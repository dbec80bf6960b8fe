import { randomUUID } from 'node:crypto'
import pg, { type Pool, type PoolClient, type QueryConfig, type QueryResultRow } from 'pg'
import { migrate } from './postgres-migrations.ts'
import { watchPostgresRevocations } from './postgres-revocations.ts'
import { toAuditEvent } from './sqlite-store.ts'
import { StoreUnavailableError, type AttemptReservation, type AuditContext, type AuditDetail, type AuditEventType, type RotateResult, type Store, type UserRecord } from './types.ts'

/** Options of {@link openPostgresStore}. Only `connectionString` is required. */
export interface PostgresStoreOptions {
  /** `postgres://user:password@host:port/database` (`DATABASE_URL`). */
  connectionString: string
  /**
   * Most connections this process opens (`PG_POOL_MAX`). Every instance has
   * its own pool: instances × poolMax must stay below the server's
   * `max_connections` (100 by default) minus what other clients need.
   * @default 10
   */
  poolMax?: number
  /** How long a request waits for a free connection, or for a new one to connect, before a 503 (`PG_CONNECT_TIMEOUT`). @default 5000 */
  connectTimeoutMs?: number
  /** Server-side `statement_timeout` of every connection, ms (`PG_STATEMENT_TIMEOUT`); a statement past it is a 503. @default 5000 */
  statementTimeoutMs?: number
  /** Idle connections are closed after this long, ms. @default 10000 */
  idleTimeoutMs?: number
  /** Apply pending migrations before returning. @default true */
  migrate?: boolean
  /** `application_name` shown in `pg_stat_activity`. @default 'silent-refresh-demo' */
  applicationName?: string
  /** Errors of idle connections (the server went away); the pool drops them and reconnects on demand. */
  onIdleError?: (err: Error) => void
}

/** The PostgreSQL store: a {@link Store} plus its pool (shared with the rate-limit counters). */
export interface PostgresStore extends Store {
  readonly pool: Pool
  /** Migration versions applied when this store opened (empty when the schema was current). */
  readonly migrationsApplied: readonly number[]
}

// SQLSTATE classes that mean "the database cannot serve this now", not "this request is wrong":
// 08 connection exception, 53 insufficient resources (too many connections, disk full),
// 57P01-57P03 admin/crash shutdown and cannot-connect-now, 57014 statement timeout, 58 system error,
// 40001/40P01 serialization failure and deadlock (the transaction was rolled back).
const UNAVAILABLE_STATES = /^(08|53|58|57P0[1-3]$|57014$|40001$|40P01$)/
// The connection itself is gone: nothing sent on it after this point reached the server.
const CONNECTION_LOST_STATES = /^(08|57P0[1-3]$)/
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ENOENT'])
const CLIENT_MESSAGES = /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|not queryable|Client was closed/i

function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined
}

/** The connection broke (socket error, server shut it, pool timed out connecting). */
function isConnectionLost(err: unknown): boolean {
  const state = sqlState(err)
  if (state) return CONNECTION_LOST_STATES.test(state)
  const code = (err as { code?: unknown } | null)?.code
  if (typeof code === 'string' && SOCKET_CODES.has(code)) return true
  return err instanceof Error && CLIENT_MESSAGES.test(err.message)
}

/** The server answered with an error that aborted the transaction: nothing of it was committed, so it may run again. */
function isRolledBack(err: unknown): boolean {
  const state = sqlState(err)
  return state !== undefined && /^(08|57P0[1-3]$|40001$|40P01$)/.test(state)
}

/** Whether `err` means "try again later" (503) rather than a bug (500). */
export function isUnavailableError(err: unknown): boolean {
  if (err instanceof StoreUnavailableError) return true
  const state = sqlState(err)
  if (state) return UNAVAILABLE_STATES.test(state)
  return isConnectionLost(err)
}

function unavailable(err: unknown, ambiguous = false): StoreUnavailableError {
  if (err instanceof StoreUnavailableError) return err
  const what = err instanceof Error ? err.message : String(err)
  return new StoreUnavailableError(`PostgreSQL is unavailable: ${what}`, ambiguous, { cause: err })
}

// Statements that come plain and with their audit event (one more data-modifying CTE, `ev`): the
// shared parts are written once, so the two can never drift apart.
const CREATE_SESSION_CTE = `WITH f AS (
                    INSERT INTO token_families (id, user_id, created_at, expires_at, dpop_jkt) VALUES ($1, $2, $3, $4, $7) RETURNING id
                  )`
const CREATE_SESSION_TOKEN = `INSERT INTO refresh_tokens (token_hash, family_id, parent_hash, status, created_at, expires_at)
                  SELECT $5, f.id, NULL, 'active', $3, $6 FROM f`
// Rotation, the happy path: the compare-and-set UPDATE and the child INSERT in one statement,
// so one implicit transaction and one round trip. Only an active, unexpired token of a live
// family flips, and only once: a concurrent rotation of the same row waits for our commit,
// re-reads the row, sees status = 'rotated' and matches nothing (READ COMMITTED re-check).
// No row back means nothing was written; `classify` then finds out why.
const ROTATE_CTES = `WITH won AS (
             UPDATE refresh_tokens t
                SET status = 'rotated', rotated_at = $2, child_hash = $3
               FROM token_families f
              WHERE t.token_hash = $1 AND t.status = 'active' AND t.expires_at > $2
                AND f.id = t.family_id AND f.revoked_at IS NULL AND f.expires_at > $2
                AND (f.dpop_jkt IS NULL OR f.dpop_jkt = $5::text)
          RETURNING t.family_id, f.user_id, f.expires_at AS family_expires_at
           ), child AS (
             INSERT INTO refresh_tokens (token_hash, family_id, parent_hash, status, created_at, expires_at)
             SELECT $3, won.family_id, $1, 'active', $2, LEAST($2::bigint + $4::bigint, won.family_expires_at) FROM won
          RETURNING expires_at
           )`
const ROTATE_RESULT = 'SELECT won.family_id, won.user_id, won.family_expires_at, child.expires_at AS token_expires_at FROM won, child'
const REVOKE_BY_TOKEN_CTES = `WITH t AS (SELECT family_id FROM refresh_tokens WHERE token_hash = $1),
                       r AS (UPDATE token_families SET revoked_at = $2, revoked_reason = $3
                              WHERE id IN (SELECT family_id FROM t) AND revoked_at IS NULL RETURNING id, user_id)`

/** Named (prepared once per connection) statements of the hot paths. */
const SQL = {
  userByName: 'SELECT id, username, password_hash FROM users WHERE username = $1',
  userById: 'SELECT id, username, password_hash FROM users WHERE id = $1',
  upsertUser: `INSERT INTO users (id, username, password_hash, created_at) VALUES ($1, $2, $3, $4)
               ON CONFLICT (username) DO UPDATE SET password_hash = EXCLUDED.password_hash
               RETURNING id`,
  // Login: the family and its first token in one statement (one implicit transaction).
  createSession: `${CREATE_SESSION_CTE} ${CREATE_SESSION_TOKEN}`,
  // The same, with its `login` audit event: still one statement.
  createSessionAudited: `${CREATE_SESSION_CTE}, ev AS (
                    INSERT INTO audit_events (at, type, family_id, user_id, address, user_agent, instance)
                    SELECT $3, 'login', f.id, $2, $8, $9, $10 FROM f
                  ) ${CREATE_SESSION_TOKEN}`,
  // Rotation, the happy path: see ROTATE_CTES.
  rotate: `${ROTATE_CTES} ${ROTATE_RESULT}`,
  // The same, with its `rotated` audit event in the same statement: no extra round trip.
  rotateAudited: `${ROTATE_CTES}, ev AS (
             INSERT INTO audit_events (at, type, family_id, user_id, address, user_agent, instance)
             SELECT $2, 'rotated', won.family_id, won.user_id, $6, $7, $8 FROM won
           ) ${ROTATE_RESULT}`,
  // Why the compare-and-set matched nothing, read after it in the same transaction.
  classify: `SELECT t.family_id, t.status, t.expires_at, t.rotated_at,
                    f.user_id, f.expires_at AS family_expires_at, f.revoked_at, f.dpop_jkt,
                    c.token_hash AS child_hash, c.status AS child_status, c.expires_at AS child_expires_at
               FROM refresh_tokens t JOIN token_families f ON f.id = t.family_id
               LEFT JOIN refresh_tokens c ON c.token_hash = t.child_hash
              WHERE t.token_hash = $1`,
  revokeFamily: 'UPDATE token_families SET revoked_at = $1, revoked_reason = $2 WHERE id = $3 AND revoked_at IS NULL',
  // Reuse: the revocation and its event together, the event only if this transaction revoked the
  // family (a replay detected by two instances at once is recorded once, by the one that revoked).
  // The detail: how many rotations led to the presented token (a walk up parent_hash by primary
  // key) and the family's newest generation (its token count).
  revokeForReuse: `WITH r AS (
                     UPDATE token_families SET revoked_at = $1, revoked_reason = 'reuse' WHERE id = $2 AND revoked_at IS NULL RETURNING id, user_id
                   ), up AS (
                     WITH RECURSIVE chain(hash, n) AS (
                       SELECT parent_hash, 0 FROM refresh_tokens WHERE token_hash = $3
                       UNION ALL SELECT t.parent_hash, chain.n + 1 FROM refresh_tokens t JOIN chain ON t.token_hash = chain.hash
                     ) SELECT max(n) AS n FROM chain
                   ), ev AS (
                     INSERT INTO audit_events (at, type, family_id, user_id, address, user_agent, instance, detail)
                     SELECT $1, 'reuse_detected', r.id, r.user_id, $4, $5, $6,
                            json_build_object('replayedGeneration', (SELECT n FROM up),
                                              'latestGeneration', (SELECT count(*) - 1 FROM refresh_tokens WHERE family_id = $2))::text
                       FROM r WHERE $6::text IS NOT NULL
                   )
                   SELECT count(*)::int AS revoked FROM r`,
  insertEvent: `INSERT INTO audit_events (at, type, family_id, user_id, address, user_agent, instance, detail)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
  eventsOfUser: 'SELECT * FROM audit_events WHERE user_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3',
  eventsOfFamily: 'SELECT * FROM audit_events WHERE user_id = $1 AND family_id = $2 AND id < $3 ORDER BY id DESC LIMIT $4',
  // The first `limit` events in insertion order, those of them before the cut (no index on at to pay at every rotation).
  purgeEvents: 'DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events ORDER BY id LIMIT $2) AND at < $1',
  revokeByToken: `${REVOKE_BY_TOKEN_CTES} SELECT count(*)::int AS found FROM t`,
  // Logout with its event, written only when this statement revoked the family.
  revokeByTokenAudited: `${REVOKE_BY_TOKEN_CTES}, ev AS (
                         INSERT INTO audit_events (at, type, family_id, user_id, address, user_agent, instance)
                         SELECT $2, 'logout', r.id, r.user_id, $4, $5, $6 FROM r
                       ) SELECT count(*)::int AS found FROM t`,
  familyOfToken: 'SELECT family_id FROM refresh_tokens WHERE token_hash = $1',
  jktOfToken: 'SELECT f.dpop_jkt FROM refresh_tokens t JOIN token_families f ON f.id = t.family_id WHERE t.token_hash = $1',
  session: `SELECT f.id, f.user_id, u.username, f.expires_at, f.revoked_at
              FROM token_families f JOIN users u ON u.id = f.user_id WHERE f.id = $1`,
  purgeFamilies: 'DELETE FROM token_families WHERE expires_at <= $1',
  purgeAttempts: 'DELETE FROM login_attempts WHERE window_ends_at <= $1',
  purgeDpopProofs: 'DELETE FROM dpop_proofs WHERE expires_at <= $1',
  // A fresh key, or one whose record has expired, is (re)recorded and comes back; a live one does not.
  recordDpopProof: `INSERT INTO dpop_proofs (key, expires_at) VALUES ($1, $2)
                    ON CONFLICT (key) DO UPDATE SET expires_at = EXCLUDED.expires_at WHERE dpop_proofs.expires_at <= $3
                    RETURNING 1 AS fresh`,
  // Login budgets: make sure every row exists (in key order, so concurrent reservations lock in
  // the same order and cannot deadlock), then lock them all before reading.
  ensureAttempts: `INSERT INTO login_attempts (key, count, window_ends_at)
                   SELECT k, 0, 0 FROM unnest($1::text[]) AS k ORDER BY k ON CONFLICT (key) DO NOTHING`,
  lockAttempts: 'SELECT key, count, window_ends_at FROM login_attempts WHERE key = ANY($1::text[]) ORDER BY key FOR UPDATE',
  takeAttempts: `UPDATE login_attempts AS a SET count = t.count, window_ends_at = t.window_ends_at
                   FROM unnest($1::text[], $2::int[], $3::bigint[]) AS t(key, count, window_ends_at) WHERE a.key = t.key`,
  releaseAttempts: `UPDATE login_attempts AS a SET count = a.count - 1
                      FROM unnest($1::text[], $2::bigint[]) AS t(key, window_ends_at)
                     WHERE a.key = t.key AND a.window_ends_at = t.window_ends_at AND a.count > 0`,
  purgeCounters: 'DELETE FROM rate_limits WHERE reset_at <= (extract(epoch FROM statement_timestamp()) * 1000)::bigint',
} as const

function named(name: keyof typeof SQL, values: unknown[]): QueryConfig {
  return { name: `sr_${name}`, text: SQL[name], values }
}

interface UserRow {
  id: string
  username: string
  password_hash: string
}

interface SessionRow {
  id: string
  user_id: string
  username: string
  expires_at: string
  revoked_at: string | null
}

interface RotatedRow {
  family_id: string
  user_id: string
  family_expires_at: string
  token_expires_at: string
}

interface ClassifyRow {
  family_id: string
  status: 'active' | 'rotated'
  expires_at: string
  rotated_at: string | null
  user_id: string
  family_expires_at: string
  revoked_at: string | null
  dpop_jkt: string | null
  child_hash: string | null
  child_status: 'active' | 'rotated' | null
  child_expires_at: string | null
}

/** `$address, $user_agent, $instance` of an audited statement. */
function contextValues(context: AuditContext): [string | null, string | null, string] {
  return [context.address, context.userAgent, context.instance]
}

/** The values of {@link SQL.insertEvent}. */
function eventValues(at: number, type: AuditEventType, familyId: string | null, userId: string | null, context: AuditContext, detail: AuditDetail | null = null): unknown[] {
  return [at, type, familyId, userId, ...contextValues(context), detail === null ? null : JSON.stringify(detail)]
}

function toUser(row: UserRow | undefined): UserRecord | undefined {
  return row && { id: row.id, username: row.username, passwordHash: row.password_hash }
}

/**
 * {@link Store} on PostgreSQL through node-postgres (`pg`), for running
 * several instances of the demo server on one database. Migrations run at
 * open (once across instances, under an advisory lock).
 *
 * `rotate()`: the conditional `UPDATE … WHERE token_hash = $1 AND status =
 * 'active' … RETURNING` and the child `INSERT` run as one statement (a
 * data-modifying CTE), so in one transaction and one round trip. When the
 * UPDATE matches nothing, a second transaction finds out why and, for an
 * already rotated token, revokes the family in that same transaction (reuse
 * detection, RFC 9700 §4.14.2).
 *
 * Database trouble never becomes a wrong answer: a lost connection, a pool
 * timeout, a statement timeout or a server shutdown rejects with
 * {@link StoreUnavailableError} (the app answers 503). Work the server
 * answered with an aborting error (e.g. its connection was terminated) was
 * rolled back and runs once more; a connection that broke without an answer
 * after a write was sent is reported as `ambiguous` and never retried
 * (retrying could rotate twice).
 *
 * @example
 * const store = await openPostgresStore({ connectionString: process.env.DATABASE_URL! })
 */
export async function openPostgresStore(options: PostgresStoreOptions): Promise<PostgresStore> {
  const statementTimeoutMs = options.statementTimeoutMs ?? 5000
  const applicationName = options.applicationName ?? 'silent-refresh-demo'
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.poolMax ?? 10,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
    idleTimeoutMillis: options.idleTimeoutMs ?? 10_000,
    // Server-side limits: a stuck statement, or a client that vanished mid-transaction,
    // cannot hold a token's row lock for long.
    statement_timeout: statementTimeoutMs,
    idle_in_transaction_session_timeout: Math.max(statementTimeoutMs * 2, 10_000),
    keepAlive: true,
    application_name: applicationName,
  })
  // Without a listener, an idle connection killed by the server would crash the process.
  pool.on('error', (err) => options.onIdleError?.(err))

  let closed = false
  /** Revocation feeds still listening; stopped by close(). */
  const feeds = new Set<() => Promise<void>>()

  /**
   * One statement, autocommit (its own transaction). An error answered by the
   * server (connection terminated by an administrator, serialization failure)
   * means the statement was rolled back: it runs once more. A connection that
   * broke without an answer is a StoreUnavailableError, `ambiguous` for writes
   * (the server may have committed before the answer was lost).
   */
  async function query<R extends QueryResultRow>(config: QueryConfig | string, values?: unknown[], write = false): Promise<R[]> {
    for (let attempt = 1; ; attempt++) {
      if (closed) throw new StoreUnavailableError('the store is closed')
      try {
        const result = typeof config === 'string' ? await pool.query<R>(config, values) : await pool.query<R>(config)
        return result.rows
      } catch (err) {
        if (!isUnavailableError(err)) throw err
        if (attempt < 2 && isRolledBack(err)) continue
        throw unavailable(err, write && sqlState(err) === undefined && isConnectionLost(err))
      }
    }
  }

  /**
   * Runs `work` in one transaction. A connection lost before COMMIT was sent
   * (or a serialization failure) means the server rolled everything back, so
   * the work runs once more on a fresh connection; past that, or when COMMIT
   * itself was cut off, the caller gets a StoreUnavailableError.
   */
  async function transaction<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      if (closed) throw new StoreUnavailableError('the store is closed')
      let client: PoolClient
      try {
        client = await pool.connect()
      } catch (err) {
        throw unavailable(err)
      }
      let commitSent = false
      try {
        await client.query('BEGIN')
        const result = await work(client)
        commitSent = true
        await client.query('COMMIT')
        client.release()
        return result
      } catch (err) {
        if (isConnectionLost(err)) {
          client.release(err instanceof Error ? err : true)
        } else {
          try {
            await client.query('ROLLBACK')
            client.release()
          } catch {
            client.release(true)
          }
        }
        if (!isUnavailableError(err)) throw err
        if (commitSent && isConnectionLost(err)) {
          throw unavailable(new Error('connection lost while committing; the outcome is unknown', { cause: err }), true)
        }
        const retryable = isConnectionLost(err) || sqlState(err) === '40001' || sqlState(err) === '40P01'
        if (attempt >= 2 || !retryable || commitSent) throw unavailable(err)
      }
    }
  }

  let migrationsApplied: number[] = []
  if (options.migrate !== false) {
    try {
      migrationsApplied = await migrate(pool)
    } catch (err) {
      await pool.end().catch(() => {})
      throw isUnavailableError(err) ? unavailable(err) : err
    }
  }

  return {
    pool,
    migrationsApplied,

    async findUserByUsername(username) {
      return toUser((await query<UserRow>(named('userByName', [username])))[0])
    },

    async findUserById(id) {
      return toUser((await query<UserRow>(named('userById', [id])))[0])
    },

    async upsertUser({ username, passwordHash }) {
      // One statement: instances seeding the same user at once cannot collide.
      const rows = await query<{ id: string }>(named('upsertUser', [randomUUID(), username, passwordHash, Date.now()]), undefined, true)
      return { id: rows[0]!.id, username, passwordHash }
    },

    async createSession(s) {
      const values = [s.familyId, s.userId, s.now, s.familyExpiresAt, s.tokenHash, Math.min(s.tokenExpiresAt, s.familyExpiresAt), s.dpopJkt ?? null]
      await query(s.audit ? named('createSessionAudited', [...values, ...contextValues(s.audit)]) : named('createSession', values), undefined, true)
    },

    async rotate(input) {
      const values = [input.tokenHash, input.now, input.newTokenHash, input.idleTtlMs, input.dpopJkt ?? null]
      const won = (await query<RotatedRow>(input.audit ? named('rotateAudited', [...values, ...contextValues(input.audit)]) : named('rotate', values), undefined, true))[0]
      if (won) {
        return {
          kind: 'rotated',
          replayed: false,
          userId: won.user_id,
          familyId: won.family_id,
          tokenExpiresAt: Number(won.token_expires_at),
          familyExpiresAt: Number(won.family_expires_at),
        }
      }
      // Nothing was rotated. Find out why, and for a rotated token revoke the family (reuse
      // detection) in the same transaction as the lookup.
      return transaction(async (client): Promise<RotateResult> => {
        const found = (await client.query<ClassifyRow>(named('classify', [input.tokenHash]))).rows[0]
        if (!found) return { kind: 'unknown' }
        const event = (type: AuditEventType) =>
          input.audit ? client.query(named('insertEvent', eventValues(input.now, type, found.family_id, found.user_id, input.audit))) : undefined
        if (found.dpop_jkt !== null && found.dpop_jkt !== (input.dpopJkt ?? null)) {
          await event('refresh_wrong_key')
          return { kind: 'wrong_key', familyId: found.family_id }
        }
        if (found.revoked_at !== null) {
          await event('refresh_after_revocation')
          return { kind: 'revoked', familyId: found.family_id }
        }
        if (input.now >= Number(found.family_expires_at)) return { kind: 'expired' }
        if (found.status === 'rotated') {
          const sinceRotation = input.now - Number(found.rotated_at ?? 0)
          // A retry of the very rotation whose child nobody has used yet: the same answer again.
          if (
            input.graceMs > 0 &&
            sinceRotation < input.graceMs &&
            found.child_hash === input.newTokenHash &&
            found.child_status === 'active' &&
            input.now < Number(found.child_expires_at)
          ) {
            await event('rotation_replayed')
            return {
              kind: 'rotated',
              replayed: true,
              userId: found.user_id,
              familyId: found.family_id,
              tokenExpiresAt: Number(found.child_expires_at),
              familyExpiresAt: Number(found.family_expires_at),
            }
          }
          // Reuse (RFC 9700 §4.14.2).
          const audit = input.audit ? contextValues(input.audit) : [null, null, null]
          await client.query(named('revokeForReuse', [input.now, found.family_id, input.tokenHash, ...audit]))
          return { kind: 'reused', familyId: found.family_id }
        }
        if (input.now >= Number(found.expires_at)) return { kind: 'expired' }
        // Active and valid, yet the compare-and-set matched nothing: the session was committed
        // between the two statements. Never guess: the client may simply retry.
        throw new StoreUnavailableError('the refresh token changed during rotation; retry')
      })
    },

    async reserveAttempts(budgets, now) {
      const keys = [...new Set(budgets.map((b) => b.key))].sort()
      return transaction(async (client): Promise<AttemptReservation> => {
        await client.query(named('ensureAttempts', [keys]))
        const { rows } = await client.query<{ key: string; count: number; window_ends_at: string }>(named('lockAttempts', [keys]))
        const current = new Map(rows.filter((r) => Number(r.window_ends_at) > now).map((r) => [r.key, { count: r.count, windowEndsAt: Number(r.window_ends_at) }]))
        for (const budget of budgets) {
          const row = current.get(budget.key)
          if (row && row.count >= budget.max) return { kind: 'refused', key: budget.key, retryAfterMs: row.windowEndsAt - now }
        }
        const slots = budgets.map((budget) => ({ key: budget.key, windowEndsAt: current.get(budget.key)?.windowEndsAt ?? now + budget.windowMs }))
        const counts = budgets.map((budget) => (current.get(budget.key)?.count ?? 0) + 1)
        await client.query(named('takeAttempts', [slots.map((s) => s.key), counts, slots.map((s) => s.windowEndsAt)]))
        return { kind: 'reserved', slots }
      })
    },

    async releaseAttempts(slots) {
      if (slots.length === 0) return
      await query(named('releaseAttempts', [slots.map((s) => s.key), slots.map((s) => s.windowEndsAt)]), undefined, true)
    },

    async familyIdOfToken(tokenHash) {
      return (await query<{ family_id: string }>(named('familyOfToken', [tokenHash])))[0]?.family_id
    },

    async dpopJktOfToken(tokenHash) {
      const rows = await query<{ dpop_jkt: string | null }>(named('jktOfToken', [tokenHash]))
      return rows.length === 0 ? undefined : rows[0]!.dpop_jkt
    },

    async revokeFamilyByToken(tokenHash, now, reason, context) {
      const statement = context ? named('revokeByTokenAudited', [tokenHash, now, reason, ...contextValues(context)]) : named('revokeByToken', [tokenHash, now, reason])
      const rows = await query<{ found: number }>(statement, undefined, true)
      return (rows[0]?.found ?? 0) > 0
    },

    async appendAuditEvent(e) {
      await query(named('insertEvent', eventValues(e.at, e.type, e.familyId, e.userId, e, e.detail)), undefined, true)
    },

    async listAuditEvents(q) {
      const before = q.before ?? Number.MAX_SAFE_INTEGER
      const statement = q.familyId === undefined ? named('eventsOfUser', [q.userId, before, q.limit]) : named('eventsOfFamily', [q.userId, q.familyId, before, q.limit])
      return (await query<Parameters<typeof toAuditEvent>[0]>(statement)).map(toAuditEvent)
    },

    async purgeAuditEvents(before, limit) {
      const rows = await query<{ n: number }>(`WITH d AS (${SQL.purgeEvents} RETURNING 1) SELECT count(*)::int AS n FROM d`, [before, limit])
      return rows[0]?.n ?? 0
    },

    async findSession(familyId) {
      const row = (await query<SessionRow>(named('session', [familyId])))[0]
      if (!row) return undefined
      return {
        familyId: row.id,
        userId: row.user_id,
        username: row.username,
        expiresAt: Number(row.expires_at),
        revokedAt: row.revoked_at === null ? null : Number(row.revoked_at),
      }
    },

    async purgeExpired(now) {
      if (closed) throw new StoreUnavailableError('the store is closed')
      const rows = await query<{ n: number }>(
        `WITH d AS (${SQL.purgeFamilies} RETURNING 1) SELECT count(*)::int AS n FROM d`,
        [now],
      )
      await query(SQL.purgeCounters)
      await query(SQL.purgeAttempts, [now])
      await query(SQL.purgeDpopProofs, [now])
      return rows[0]?.n ?? 0
    },

    async recordDpopProof(key, expiresAt, now) {
      // A lost answer is not retried blindly by query() (a write): the client gets a 503 and makes a new proof.
      return (await query<{ fresh: number }>(named('recordDpopProof', [key, expiresAt, now]), undefined, true)).length === 1
    },

    async watchRevocations(listener) {
      if (closed) throw new StoreUnavailableError('the store is closed')
      const stop = await watchPostgresRevocations(
        { connectionString: options.connectionString, applicationName, onError: options.onIdleError },
        listener,
      )
      feeds.add(stop)
      return async () => {
        feeds.delete(stop)
        await stop()
      }
    },

    async ping() {
      await query('SELECT 1')
    },

    async close() {
      if (closed) return
      closed = true
      await Promise.all([...feeds].map((stop) => stop()))
      await pool.end()
    },
  }
}
