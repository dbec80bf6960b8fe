import type { Scheduler } from 'fast-check'
import { vi } from 'vitest'
import { createAuthFetch } from '../../src/adapters/fetch.js'
import { createTokenManager, isAuthError } from '../../src/index.js'
import type { TokenSet, TokenStorage } from '../../src/index.js'
import { describeCommand, REFRESH_TIMEOUT_MS, STORAGE_TIMEOUT_MS, targets, type Command, type ModelConfig } from './model-commands.js'
import { API_ORIGIN, ModelWorld, type Call } from './model-server.js'

const allowedRejections = new Set(['SESSION_EXPIRED', 'REFRESH_FAILED', 'REFRESH_TIMEOUT', 'NOT_SIGNED_IN'])

/**
 * Runs one generated scenario against the real `createTokenManager` and the
 * real `createAuthFetch`, and throws when the model saw a contract violation.
 *
 * Timers (refresh timeout, retry back-off) are faked and advanced only by
 * `jump` commands and by the final drain, together with the manager's `now`
 * and the server's clock, so a hung refresh costs no real time.
 */
/** The storage of a run: none, answering at once, answering a tick later, or writes that never answer. */
function storageFor(kind: ModelConfig['storage']): TokenStorage | undefined {
  if (kind === 'none') return undefined
  let stored: TokenSet | null = null
  const later = <T>(value: T) => (kind === 'async' ? Promise.resolve().then(() => value) : value)
  return {
    get: () => later(stored),
    set: (tokens) => (kind === 'hanging' ? new Promise<void>(() => {}) : later(void (stored = tokens))),
    clear: () => (kind === 'hanging' ? new Promise<void>(() => {}) : later(void (stored = null))),
  }
}

/**
 * Counts the manager's keep-alive handles (DESIGN 11): every timer of the manager is
 * unref'd, so while a caller waits only a live keep-alive stops Node from exiting.
 * Recognised by its delay, the longest setInterval holds.
 */
function watchKeepAlive() {
  const live = new Set<unknown>()
  const realSet = globalThis.setInterval
  const realClear = globalThis.clearInterval
  const set = vi.spyOn(globalThis, 'setInterval').mockImplementation(((fn: () => void, ms?: number) => {
    const handle = realSet(fn, ms)
    if (ms === 2 ** 31 - 1) live.add(handle)
    return handle
  }) as typeof setInterval)
  const clear = vi.spyOn(globalThis, 'clearInterval').mockImplementation(((handle?: Parameters<typeof clearInterval>[0]) => {
    live.delete(handle)
    realClear(handle)
  }) as typeof clearInterval)
  return {
    get alive() {
      return live.size > 0
    },
    restore() {
      for (const handle of live) realClear(handle as Parameters<typeof clearInterval>[0])
      set.mockRestore()
      clear.mockRestore()
    },
  }
}

export async function runModel(s: Scheduler, config: ModelConfig, commands: readonly Command[]): Promise<ModelWorld> {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
  const keepAlive = watchKeepAlive()
  const world = new ModelWorld(s, config)
  const manager = createTokenManager({
    refresh: world.refresh,
    now: () => world.clock,
    refreshBeforeExpiryMs: config.windowMs,
    refreshTimeoutMs: REFRESH_TIMEOUT_MS,
    storageTimeoutMs: STORAGE_TIMEOUT_MS,
    storage: storageFor(config.storage),
    retry: { attempts: config.attempts, baseDelayMs: 0 },
  })
  try {
    manager.on('tokens', (tokens) => world.onTokens(tokens))
    manager.on('signedOut', () => world.onSignedOut())
    manager.on('error', ({ source }) => world.count(`error event: ${source}`))

    /**
     * Invariant 9: no storage call holds a login or a sign-out hostage. They run detached
     * (the session changes at once); each must settle once its storage call is given up on.
     */
    const changes: { what: string; settled: boolean }[] = []
    const change = (what: string, run: () => Promise<void>) => {
      const entry = { what, settled: false }
      changes.push(entry)
      return run().then(
        () => void (entry.settled = true),
        (error: unknown) => world.violation(`${what} rejected: ${String(error)}`),
      )
    }
    const authFetch = createAuthFetch(manager, { fetch: world.fetch, allowedOrigins: [API_ORIGIN] })

    const settle = (call: Call, outcome: string) => {
      call.settled++
      call.outcome = outcome
      world.count(`${call.kind} → ${outcome}`)
    }
    const rejected = (call: Call) => (error: unknown) => {
      const name = error instanceof Error ? error.name : typeof error
      if (call.fetchRejects && error instanceof TypeError) {
        // as plain fetch would
      } else if (name === 'AbortError') {
        if (!call.controller?.signal.aborted) world.violation(`${call.label} rejected with AbortError though nobody aborted it`)
      } else if (!isAuthError(error) || !allowedRejections.has(error.code)) {
        world.violation(`${call.label} rejected with an unexpected error: ${String(error)}`)
      }
      settle(call, isAuthError(error) ? error.code : name)
    }
    const newCall = (label: string, kind: Call['kind'], signal: boolean, target?: keyof typeof targets, body = false): Call => {
      const call: Call = {
        id: world.calls.length,
        label: `#${world.calls.length} ${label}`,
        kind,
        foreign: target?.startsWith('foreign') ?? false,
        fetchRejects: target === 'foreign-userinfo',
        body: body ? `body of #${world.calls.length}` : null,
        genAtIssue: world.gen,
        signedOutAtIssue: world.signedOut,
        settled: 0,
        answers: [],
        sessions: [],
      }
      if (signal) call.controller = new AbortController()
      world.calls.push(call)
      return call
    }
    const request = (target: keyof typeof targets, signal: boolean, asRequest: boolean, body: boolean, label: string) => {
      const call = newCall(label, 'fetch', signal, target, body)
      const url = `${targets[target]}${call.id}`
      const init: RequestInit = {}
      if (call.controller) init.signal = call.controller.signal
      if (call.body !== null) Object.assign(init, { method: 'POST', body: call.body })
      // Node has no page, so a relative URL cannot make a Request, nor can one with credentials: those go as strings.
      const useRequest = asRequest && /^https?:/.test(url) && !url.includes('@')
      authFetch(useRequest ? new Request(url, init) : url, useRequest ? undefined : init).then((response) => settle(call, String(response.status)), rejected(call))
    }

    /** Invariant 6: signed out (clear(), terminal failure) means getAccessToken() → null until the next login. */
    const probeSignedOut = async (when: string) => {
      if (!world.signedOut || manager.isRefreshing) return // a failing flight still settles its own waiters
      world.count('signed-out probe')
      try {
        const token = await manager.getAccessToken()
        if (token !== null) world.violation(`signed out, yet getAccessToken() gave ${token} (${when})`)
      } catch (error) {
        world.violation(`signed out, yet getAccessToken() threw ${String(error)} (${when})`)
      }
    }

    const races: Extract<Command, { kind: 'race' }>[] = []
    world.afterAnswer = (on) => {
      const i = races.findIndex((r) => r.on === on)
      if (i === -1) return
      const [race] = races.splice(i, 1)
      if (!race) return
      world.count(`race: ${race.then.kind} after ${race.on} answer`)
      void (async () => {
        for (let tick = 0; tick < race.ticks; tick++) await null
        await exec(race.then, false)
      })()
    }

    const exec = async (c: Command, probe = true): Promise<void> => {
      if (probe) await probeSignedOut(`before ${describeCommand(c)}`)
      switch (c.kind) {
        case 'request':
          request(c.target, c.signal, c.asRequest, c.body, describeCommand(c))
          return
        case 'burst':
          for (let i = 0; i < c.count; i++) request('api', false, false, false, `burst ${i + 1}/${c.count}`)
          return
        case 'getToken': {
          const call = newCall(describeCommand(c), 'token', c.signal)
          manager.getAccessToken({ signal: call.controller?.signal }).then((token) => {
            if (token !== null) world.checkTokenFor(call, token, 'got')
            settle(call, token === null ? 'null' : 'a token')
          }, rejected(call))
          return
        }
        case 'abort': {
          const live = world.calls.filter((call) => call.controller && !call.controller.signal.aborted && call.settled === 0)
          live[c.pick % Math.max(1, live.length)]?.controller?.abort()
          return
        }
        case 'expire':
          world.expireAll()
          return
        case 'outcome':
          world.outcomes.push(c.outcome)
          return
        case 'login': {
          const tokens = world.login()
          void change('setTokens()', () => manager.setTokens(tokens))
          return
        }
        case 'clear':
          world.signedOut = true
          void change('clear()', () => manager.clear())
          return
        case 'jump':
          world.clock += c.ms
          vi.advanceTimersByTime(c.ms)
          return
        case 'race':
          races.push(c)
          return
      }
    }

    // Detached like every login: the session is set at once; only the write may wait (a hanging storage).
    void change('the first setTokens()', () => manager.setTokens(world.login()))
    const sequence = s.scheduleSequence(commands.map((c) => ({ label: describeCommand(c), builder: () => exec(c) })))

    // Drain: release every scheduled answer, then let time pass until hung refreshes time out
    // and back-offs elapse, until nothing is left to release.
    for (let round = 0; ; round++) {
      await s.waitIdle()
      await new Promise<void>((resolve) => setImmediate(resolve))
      // Invariant 8: nothing is left to answer on its own (no scheduled answer), so a caller still
      // waiting waits on the manager's timers, all unref'd: only the keep-alive stops Node from
      // exiting with that caller silently lost.
      const waiting = world.calls.filter((call) => call.settled === 0 && !call.answers.includes('-'))
      if (s.count() === 0 && waiting.length > 0 && !keepAlive.alive) {
        world.violation(`${waiting[0]!.label} waits while nothing keeps the process alive (it could exit with the call lost)`)
      }
      if (s.count() === 0 && vi.getTimerCount() === 0) break
      if (round === 20) {
        world.violation(`still busy after ${round} drain rounds (${s.count()} tasks, ${vi.getTimerCount()} timers)`)
        break
      }
      world.clock += REFRESH_TIMEOUT_MS
      vi.advanceTimersByTime(REFRESH_TIMEOUT_MS)
    }

    if (!sequence.done) world.violation(`the commands did not all run${sequence.faulty ? ' (one threw)' : ''}`)
    // (The bound itself, exactly storageTimeoutMs, is pinned by test/core/persistence.test.ts.)
    for (const entry of changes) if (!entry.settled) world.violation(`${entry.what} never settled (the storage held it hostage)`)
    // Invariant 1: every call settled exactly once (a promise cannot settle twice; none may stay pending).
    for (const call of world.calls) {
      if (call.settled !== 1) world.violation(`${call.label} settled ${call.settled} times (answers: ${call.answers.join(',') || 'none'})`)
    }
    // Invariant 2, at rest.
    if (manager.isRefreshing || world.activeRefreshes !== 0) {
      world.violation(`a refresh is still in flight after the drain (isRefreshing ${manager.isRefreshing}, ${world.activeRefreshes} calls)`)
    }
    await probeSignedOut('at the end')
  } finally {
    manager.dispose()
    keepAlive.restore()
    vi.useRealTimers()
  }
  if (world.violations.length > 0) {
    const unique = [...new Set(world.violations)]
    throw new Error(`${unique.length} contract violation(s):\n  ${unique.slice(0, 8).join('\n  ')}`)
  }
  return world
}
