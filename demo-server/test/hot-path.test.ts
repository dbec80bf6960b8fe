/**
 * The hot path: a known access token is served from memory (no signature
 * check, no store read), and what is cached never outlives a revocation, an
 * expiry, or an interruption of the revocation feed. In one process here, on
 * SQLite and the memory store; across processes and instances in
 * revocation-push.test.ts and multi-instance.test.ts.
 */
import { describe, expect, it } from 'vitest'
import type { RevocationListener, SessionRecord, Store } from '../src/store/types.ts'
import { createMemoryStore } from '../src/store/memory-store.ts'
import { openSqliteStore } from '../src/store/sqlite-store.ts'
import { build, type TestContext } from './helpers/build.ts'

/** A real store with its session reads counted, and a way to hold one read between its query and its answer. */
function observed(inner: Store) {
  const calls = { findSession: 0, findUserById: 0 }
  let hold: { read: () => void; release: Promise<void> } | undefined
  let feed: RevocationListener | undefined
  const store: Store = Object.create(inner) as Store
  Object.assign(store, {
    findSession: async (sid: string): Promise<SessionRecord | undefined> => {
      calls.findSession++
      const session = await inner.findSession(sid)
      const held = hold
      if (held) {
        hold = undefined
        held.read()
        await held.release
      }
      return session
    },
    findUserById: async (id: string) => {
      calls.findUserById++
      return inner.findUserById(id)
    },
    watchRevocations: async (listener: RevocationListener) => {
      feed = listener
      return inner.watchRevocations(listener)
    },
  })
  return {
    store,
    calls,
    /** The next session read resolves `read` once it has its answer, then waits for `release`. */
    holdNextRead(release: Promise<void>): Promise<void> {
      return new Promise((read) => (hold = { read, release }))
    },
    feed: () => feed!,
  }
}

const stores: Array<[string, () => Store]> = [
  ['memory', () => createMemoryStore()],
  ['SQLite', () => openSqliteStore(':memory:')],
]

describe.each(stores)('the hot path (%s store)', (_name, open) => {
  async function setup(overrides: Parameters<typeof build>[0] = {}) {
    const o = observed(open())
    const ctx = await build({ store: o.store, ...overrides })
    await ctx.app.ready()
    const { access_token: access, refresh_token: refresh } = (await ctx.login()).json<{ access_token: string; refresh_token: string }>()
    return { ...o, ctx, access, refresh }
  }
  const verifications = (ctx: TestContext) => {
    const counter = { n: 0 }
    const verify = ctx.app.accessTokens.verify.bind(ctx.app.accessTokens)
    ctx.app.accessTokens.verify = (token) => {
      counter.n++
      return verify(token)
    }
    return counter
  }

  it('100 requests with one token: one signature check and one session read in all, none per request', async () => {
    const { ctx, calls, access } = await setup()
    const verified = verifications(ctx)
    for (let i = 0; i < 100; i++) {
      const res = await ctx.me(access)
      expect(res.statusCode).toBe(200)
      expect(res.json().username).toBe('demo')
    }
    expect(verified.n).toBe(1)
    expect(calls.findSession).toBe(1)
    expect(calls.findUserById).toBe(0)
  })

  it('a logout stops the cached token at once', async () => {
    const { ctx, access, refresh } = await setup()
    expect((await ctx.me(access)).statusCode).toBe(200)
    expect((await ctx.logout(refresh)).statusCode).toBe(204)
    const res = await ctx.me(access)
    expect(res.statusCode).toBe(401)
    expect(res.json().error_description).toBe('The session has ended.')
  })

  it('reuse detection stops the cached tokens of the family at once', async () => {
    const { ctx, access, refresh } = await setup()
    const second = (await ctx.refresh(refresh)).json<{ access_token: string; refresh_token: string }>()
    await ctx.refresh(second.refresh_token) // the child is used: the first token is now reuse
    expect((await ctx.me(access)).statusCode).toBe(200)
    expect((await ctx.me(second.access_token)).statusCode).toBe(200)
    expect((await ctx.refresh(refresh)).statusCode).toBe(400)
    expect((await ctx.me(access)).statusCode).toBe(401)
    expect((await ctx.me(second.access_token)).statusCode).toBe(401)
  })

  it('a cached token still expires on time, and with its session', async () => {
    const { ctx, access } = await setup({ accessTokenTtl: 30, refreshFamilyMaxAge: 20 })
    expect((await ctx.me(access)).statusCode).toBe(200)
    // The family ends at 20 s, before the token's own exp at 30 s.
    ctx.clock.advance(20_000)
    expect((await ctx.me(access)).json().error_description).toBe('The session has ended.')
    ctx.clock.advance(15_000)
    expect((await ctx.me(access)).json().error_description).toBe('The access token expired.')
  })

  it('a session read as active a moment before it is revoked is not cached as active', async () => {
    const { ctx, access, refresh, holdNextRead } = await setup()
    let release!: () => void
    const released = new Promise<void>((r) => (release = r))
    const read = holdNextRead(released)
    const first = ctx.me(access)
    await read // the session has been read (active) but the request has not finished
    expect((await ctx.logout(refresh)).statusCode).toBe(204)
    release()
    // That request was let through on what it read; the next one must not be.
    expect((await first).statusCode).toBe(200)
    expect((await ctx.me(access)).statusCode).toBe(401)
  })

  it('while the revocation feed is interrupted nothing is cached; when it is back, everything is read afresh', async () => {
    const { ctx, calls, access, feed } = await setup()
    expect((await ctx.me(access)).statusCode).toBe(200)
    expect(calls.findSession).toBe(1)
    feed().live(false)
    for (let i = 0; i < 3; i++) expect((await ctx.me(access)).statusCode).toBe(200)
    expect(calls.findSession).toBe(4)
    expect(ctx.app.authCache.size).toEqual({ tokens: 0, sessions: 0 })
    feed().live(true)
    expect((await ctx.me(access)).statusCode).toBe(200)
    expect((await ctx.me(access)).statusCode).toBe(200)
    expect(calls.findSession).toBe(5)
  })

  it('holds at most authCacheSize tokens', async () => {
    const { ctx } = await setup({ authCacheSize: 3 })
    const tokens: string[] = []
    for (let i = 0; i < 6; i++) {
      ctx.clock.advance(1000)
      tokens.push((await ctx.login()).json<{ access_token: string }>().access_token)
    }
    for (const token of tokens) expect((await ctx.me(token)).statusCode).toBe(200)
    expect(ctx.app.authCache.size.tokens).toBe(3)
    expect(ctx.app.authCache.size.sessions).toBe(3)
  })
})
