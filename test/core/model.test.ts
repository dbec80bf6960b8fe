import fc from 'fast-check'
import { describe, it } from 'vitest'
import { commandsArb, configArb } from '../helpers/model-commands.js'
import { runModel } from '../helpers/model-run.js'

/**
 * Property-based model test. The real createTokenManager + createAuthFetch run
 * against an in-memory token server (test/helpers/model-server.ts) under
 * generated commands (test/helpers/model-commands.ts): requests to the API, to
 * relative URLs and to foreign origins (some abortable, some POST, some as a
 * `Request`), bursts, getAccessToken(), aborts, server-side expiry, the next
 * refresh outcome (rotation / invalid_grant 400 / 503 / hang), setTokens (a new
 * login), clear(), time jumps (manager clock, server clock and faked timers
 * together), and "races": a login, clear, abort, request or jump landing a few
 * microtasks after an answer, inside the manager's handling of it. The
 * fast-check scheduler orders every answer against every command.
 *
 * Invariants (each one was seen to fail against a broken copy of src/):
 * 1. Every request and getAccessToken() settles exactly once: none is pending
 *    once the scheduler is drained and hung refreshes have timed out; and it
 *    settles as the contract says (a Response, AbortError only when aborted,
 *    an AuthError code otherwise; never a TypeError from a reused body).
 * 2. At most one refresh in flight: no call enters the refresh function while
 *    another one the manager still waits for is running (a call whose signal
 *    the manager aborted, by timeout or supersede, no longer counts).
 * 3. At most one refresh per stale token: a refresh presents the current
 *    session's refresh token, never one whose rotation was delivered, and only
 *    when the access token is due or was refused with a 401; a refresh result
 *    is applied only over the session it refreshed. With a refresh function
 *    that honours its signal the server sees zero reuse. What the contract
 *    allows: setTokens() during a refresh supersedes it (its signal aborts, its
 *    waiters get the new login's token, its result is never applied) and
 *    clear() during a refresh is not undone (waiters get NOT_SIGNED_IN). A
 *    refresh function that ignores its signal may still reach the server after
 *    that: it presents the OLD family's token, so the new session sees no reuse,
 *    and the manager may already run a refresh for the new login beside it.
 *    The one reuse the SDK cannot prevent: a refresh that timed out on the
 *    client but rotated on the server (the answer is lost); the retry presents
 *    the same token. The model allows that reuse only when the refresh
 *    function ignores its signal, and never for a rotation the manager received.
 * 4. No request is retried twice: the server sees each request at most twice,
 *    the second time only after a 401, never for a foreign origin; the body is
 *    the same on both.
 * 5. No token is sent to a foreign origin, including URLs that only look
 *    relative or same-origin (userinfo, ports, schemes, "//", a backslash, a tab
 *    between slashes).
 * 6. After a terminal refresh failure (and after clear()) the manager is
 *    signed out: getAccessToken() gives null and requests go without a token
 *    until the next setTokens().
 * 7. No request crosses sessions: every hit of a request carries a token of the
 *    session it was issued under (or none), and a waiting getAccessToken() never
 *    resolves with another login's token.
 * 8. No waiter when the process could exit: whenever nothing is left to answer
 *    on its own and a caller still waits (on a timeout, a back-off, a hung
 *    refresh), the manager's keep-alive is held.
 * 9. No storage call holds a login or a sign-out hostage: with writes that never
 *    answer, every setTokens() and clear() still settles.
 *
 * Invariants 7, 8, 9 and the `repeat` clause of 3 were each seen to fail against a
 * broken copy of src/ (the session id ignored after a refresh; no keep-alive;
 * unbounded storage writes; a repeated token string keeping its generation).
 *
 * A failure prints fast-check's seed, path and the scheduler's order of tasks.
 * To replay one, or to hunt longer:
 *   MODEL_SEED=<seed> MODEL_PATH=<path> npx vitest run test/core/model.test.ts --project sdk
 *   MODEL_RUNS=50000 npx vitest run test/core/model.test.ts --project sdk
 * MODEL_STATS=1 prints how often each interesting case was reached.
 */
const env = process.env
const replay = env.MODEL_SEED ? { seed: Number(env.MODEL_SEED), ...(env.MODEL_PATH ? { path: env.MODEL_PATH } : {}) } : {}

describe('model: token manager + auth fetch under generated interleavings', () => {
  it('keeps every invariant', { timeout: 120_000 }, async () => {
    const seen = new Map<string, number>()
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), configArb, commandsArb, async (s, config, commands) => {
        const world = await runModel(s, config, commands)
        for (const [what, n] of world.seen) seen.set(what, (seen.get(what) ?? 0) + n)
      }),
      { numRuns: Number(env.MODEL_RUNS ?? 1000), ...replay },
    )
    if (env.MODEL_STATS) console.log([...seen].sort().map(([k, v]) => `${k}: ${v}`).join('\n'))
  })
})
