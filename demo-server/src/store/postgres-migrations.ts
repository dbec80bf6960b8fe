import type { Pool } from 'pg'

/**
 * Schema migrations of the PostgreSQL store, applied in order at start-up by
 * {@link migrate}. Append new ones; never edit or reorder a released one
 * (`schema_migrations` records which versions a database already has).
 *
 * Times are epoch milliseconds in `bigint` columns, like the SQLite store, so
 * the store takes the clock from its caller (tests use a frozen one). Rate-
 * limit windows are the exception: they use the database clock, the one clock
 * every instance shares.
 */
export const MIGRATIONS: ReadonlyArray<{ version: number; name: string; sql: string }> = [
  {
    version: 1,
    name: 'users, token families, refresh tokens',
    sql: `
CREATE TABLE users (
  id            text PRIMARY KEY,
  username      text NOT NULL UNIQUE,
  password_hash text NOT NULL,
  created_at    bigint NOT NULL
);
CREATE TABLE token_families (
  id             text PRIMARY KEY,
  user_id        text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_at     bigint NOT NULL,
  expires_at     bigint NOT NULL,
  revoked_at     bigint,
  revoked_reason text CHECK (revoked_reason IN ('logout', 'reuse'))
);
CREATE INDEX token_families_expires ON token_families (expires_at);
CREATE INDEX token_families_user ON token_families (user_id);
-- token_hash is the primary key: the lookup of every refresh is an index probe.
CREATE TABLE refresh_tokens (
  token_hash  text PRIMARY KEY,
  family_id   text NOT NULL REFERENCES token_families(id) ON DELETE CASCADE,
  parent_hash text,
  status      text NOT NULL CHECK (status IN ('active', 'rotated')),
  created_at  bigint NOT NULL,
  expires_at  bigint NOT NULL,
  rotated_at  bigint
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_parent ON refresh_tokens (parent_hash) WHERE parent_hash IS NOT NULL;
-- The database itself refuses a second active token in a family.
CREATE UNIQUE INDEX refresh_tokens_one_active ON refresh_tokens (family_id) WHERE status = 'active';
`,
  },
  {
    version: 2,
    name: 'shared rate-limit counters',
    sql: `
-- UNLOGGED: no WAL for counters that may be lost in a crash (a lost window only
-- means a client gets a fresh one); not replicated to standbys either.
CREATE UNLOGGED TABLE rate_limits (
  key      text PRIMARY KEY,
  count    integer NOT NULL,
  reset_at bigint NOT NULL
);
CREATE INDEX rate_limits_reset ON rate_limits (reset_at);
`,
  },
  {
    version: 3,
    name: 'login attempt budgets',
    sql: `
-- One row per budget key (auth/login-limits.ts), fixed windows on the caller's clock.
-- Logged, unlike rate_limits: a crash must not hand a password guesser a fresh budget.
CREATE TABLE login_attempts (
  key            text PRIMARY KEY,
  count          integer NOT NULL,
  window_ends_at bigint NOT NULL
);
CREATE INDEX login_attempts_window ON login_attempts (window_ends_at);
`,
  },
  {
    version: 4,
    name: 'revocations pushed to every instance',
    sql: `
-- Every instance LISTENs on this channel (postgres-revocations.ts) and drops what it cached about
-- the session at once. A trigger, so a revocation made any way at all (a psql UPDATE included) is
-- pushed; NOTIFY is delivered when the revoking transaction commits, never before.
CREATE FUNCTION silent_refresh_notify_revoked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('silent_refresh_revocations', NEW.id);
  RETURN NULL;
END
$$;
CREATE TRIGGER token_families_revoked AFTER UPDATE OF revoked_at ON token_families
  FOR EACH ROW WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)
  EXECUTE FUNCTION silent_refresh_notify_revoked();
`,
  },
  {
    version: 5,
    name: 'child_hash instead of an index on parent_hash',
    sql: `
-- The rotation records its child on the parent row; the child is then found by primary key,
-- and every rotation writes one index less.
ALTER TABLE refresh_tokens ADD COLUMN child_hash text;
UPDATE refresh_tokens p SET child_hash = c.token_hash FROM refresh_tokens c WHERE c.parent_hash = p.token_hash;
DROP INDEX refresh_tokens_parent;
`,
  },
  {
    version: 6,
    name: 'audit trail of token families',
    sql: `
-- Security events of token families (README "Monitoring"), kept AUDIT_RETENTION (30 days) and
-- deleted in batches in insertion order (id), so no index on at: every index here is paid by
-- every rotation, whose statement writes the event. No token, no hash of a token, no password:
-- ids, times, where from, which instance saw it, and a small JSON detail. No foreign keys: events
-- outlive the families (purged at their absolute end) and the users they name. One index, by user:
-- a family's events are read among its user's.
CREATE TABLE audit_events (
  id         bigserial PRIMARY KEY,
  at         bigint NOT NULL,
  type       text NOT NULL,
  family_id  text,
  user_id    text,
  address    text,
  user_agent text,
  instance   text NOT NULL,
  detail     text
);
CREATE INDEX audit_events_user ON audit_events (user_id, id) WHERE user_id IS NOT NULL;
`,
  },
  {
    version: 7,
    name: 'DPoP: key-bound token families and the proof replay cache',
    sql: `
-- RFC 9449 §5: the thumbprint of the key every refresh of the family must prove; NULL = unbound.
ALTER TABLE token_families ADD COLUMN dpop_jkt text;
-- RFC 9449 §11.1: one row per DPoP proof (a hash of its key thumbprint and jti) until its iat
-- leaves the accepted window; shared by every instance, so a proof replayed to another is caught.
CREATE TABLE dpop_proofs (
  key        text PRIMARY KEY,
  expires_at bigint NOT NULL
);
CREATE INDEX dpop_proofs_expires ON dpop_proofs (expires_at);
`,
  },
]

/** Arbitrary constant for `pg_advisory_xact_lock`: "silent-refresh demo migrations". */
const MIGRATION_LOCK_KEY = 7_260_504_117

/**
 * Applies the migrations this database does not have yet, in one
 * transaction under an advisory lock: N instances starting at once migrate
 * exactly once (the others wait, then find nothing to do). Returns the
 * versions applied by this call.
 */
export async function migrate(pool: Pool): Promise<number[]> {
  const client = await pool.connect()
  let failed: unknown
  try {
    await client.query('BEGIN')
    // Instances starting together wait here for the first one's migrations: allow more than
    // the pool's per-statement limit.
    await client.query("SET LOCAL statement_timeout = '60s'")
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY])
    await client.query(
      `CREATE TABLE IF NOT EXISTS schema_migrations (
         version    integer PRIMARY KEY,
         name       text NOT NULL,
         applied_at timestamptz NOT NULL DEFAULT now()
       )`,
    )
    const { rows } = await client.query<{ version: number }>('SELECT version FROM schema_migrations')
    const have = new Set(rows.map((r) => r.version))
    const newest = Math.max(0, ...have)
    const known = MIGRATIONS.at(-1)?.version ?? 0
    if (newest > known) {
      throw new Error(`the database schema is at version ${newest}, newer than this server knows (${known}); upgrade the server`)
    }
    const applied: number[] = []
    for (const m of MIGRATIONS) {
      if (have.has(m.version)) continue
      await client.query(m.sql)
      await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name])
      applied.push(m.version)
    }
    await client.query('COMMIT')
    return applied
  } catch (err) {
    failed = err
    await client.query('ROLLBACK').catch(() => {})
    throw err
  } finally {
    client.release(failed instanceof Error ? failed : undefined)
  }
}
