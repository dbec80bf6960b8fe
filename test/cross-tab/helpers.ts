// Browser pieces for running the cross-tab link in Node: every "tab" is a
// manager in this one process, sharing a fake lock manager, a fake
// BroadcastChannel with asynchronous delivery, fake-indexeddb, and a
// "localStorage" whose writes reach the other tabs late (as Chromium's do).
// Every delay here is a setTimeout: the tests run them on fake time
// (test/helpers/fake-time.ts), so a loaded machine cannot reorder them.
import { IDBFactory } from 'fake-indexeddb'
import { vi } from 'vitest'
import type { TokenSet, TokenStorage } from '../../src/index.js'

interface LockRequest {
  callback: (lock: { name: string }) => unknown
  resolve(value: unknown): void
  reject(error: unknown): void
}

/** `navigator.locks` for one origin: exclusive mode, FIFO, `signal`, `steal`. */
export function fakeLocks() {
  const queues = new Map<string, LockRequest[]>()
  const held = new Map<string, LockRequest>()
  let maxHeld = 0
  let holders = 0

  const grant = (name: string, request: LockRequest) => {
    held.set(name, request)
    maxHeld = Math.max(maxHeld, ++holders)
    const release = () => {
      holders--
      if (held.get(name) !== request) return
      held.delete(name)
      pump(name)
    }
    void Promise.resolve()
      .then(() => request.callback({ name }))
      .then(
        (value) => (release(), request.resolve(value)),
        (error) => (release(), request.reject(error)),
      )
  }
  const pump = (name: string) => {
    const next = queues.get(name)?.shift()
    if (next && !held.has(name)) grant(name, next)
  }

  const locks = {
    request(name: string, ...args: unknown[]): Promise<unknown> {
      const callback = args.pop() as LockRequest['callback']
      const options = (args[0] ?? {}) as { signal?: AbortSignal; steal?: boolean }
      return new Promise((resolve, reject) => {
        const request: LockRequest = { callback, resolve, reject }
        if (options.signal?.aborted) return reject(options.signal.reason)
        if (options.steal) {
          const holder = held.get(name)
          if (holder) {
            held.delete(name)
            holder.reject(new DOMException('The lock was stolen', 'AbortError'))
          }
          return grant(name, request)
        }
        const queue = queues.get(name) ?? []
        queues.set(name, queue)
        queue.push(request)
        options.signal?.addEventListener('abort', () => {
          const at = queue.indexOf(request)
          if (at === -1) return
          queue.splice(at, 1)
          reject(options.signal!.reason)
        })
        if (!held.has(name)) pump(name)
      })
    },
  }
  return {
    locks,
    maxHeld: () => maxHeld,
    isHeld: (name: string) => held.has(name),
    /** How many requests for `name` wait in the queue. */
    waiting: (name: string) => queues.get(name)?.length ?? 0,
  }
}

/** A BroadcastChannel class whose messages reach the other instances `delayMs` later, cloned. */
export function fakeBroadcastChannel(delayMs = 2) {
  const open = new Set<{ name: string; onmessage: ((event: MessageEvent) => void) | null; closed: boolean }>()
  return class FakeBroadcastChannel {
    onmessage: ((event: MessageEvent) => void) | null = null
    closed = false
    constructor(readonly name: string) {
      open.add(this)
    }
    postMessage(data: unknown) {
      if (this.closed) throw new DOMException('closed', 'InvalidStateError')
      for (const other of open) {
        if (other === this || other.name !== this.name) continue
        const copy = structuredClone(data)
        setTimeout(() => !other.closed && other.onmessage?.({ data: copy } as MessageEvent), delayMs)
      }
    }
    close() {
      this.closed = true
      open.delete(this)
    }
  }
}

/**
 * One `localStorage` shared by tabs: a tab sees its own writes at once and
 * other tabs' writes `lagMs` later (in order).
 */
export function laggingStorage(lagMs: number) {
  const seen = new Map<number, TokenSet | null>()
  const tabs = new Set<number>()
  const write = (tab: number, value: TokenSet | null) => {
    seen.set(tab, value)
    for (const other of tabs) if (other !== tab) setTimeout(() => seen.set(other, value), lagMs)
  }
  return {
    view(tab: number): TokenStorage {
      tabs.add(tab)
      return {
        get: () => structuredClone(seen.get(tab) ?? null),
        set: (tokens) => write(tab, structuredClone(tokens)),
        clear: () => write(tab, null),
      }
    },
    seed(tokens: TokenSet) {
      for (const tab of tabs) seen.set(tab, tokens)
    },
  }
}

/** A rotating token server in memory: each refresh token works once; a second use is a reuse. */
export function rotatingServer(latencyMs = 10) {
  let n = 0
  const active = new Set<string>()
  const stats = { refreshCalls: 0, reuse: 0 }
  const issue = (): TokenSet => {
    n++
    const refreshToken = `r${n}`
    active.add(refreshToken)
    return { accessToken: `a${n}`, refreshToken, expiresIn: 600 }
  }
  const refresh = async ({ refreshToken }: { refreshToken: string | null }): Promise<TokenSet> => {
    // The server decides when the request arrives; the answer takes latencyMs to come back.
    stats.refreshCalls++
    const valid = !!refreshToken && active.delete(refreshToken)
    if (!valid) {
      stats.reuse++
      active.clear() // the family is revoked
    }
    const tokens = valid ? issue() : undefined
    await new Promise((resolve) => setTimeout(resolve, latencyMs))
    if (!tokens) throw Object.assign(new Error('invalid_grant'), { status: 400, error: 'invalid_grant' })
    return tokens
  }
  return { issue, refresh, stats }
}

/** A document with `visibilityState` and listeners, for the wake-up re-check. */
export function fakeDocument() {
  const target = new EventTarget()
  let listeners = 0
  const doc = {
    visibilityState: 'visible' as DocumentVisibilityState,
    addEventListener: (type: string, listener: EventListener) => (listeners++, target.addEventListener(type, listener)),
    removeEventListener: (type: string, listener: EventListener) => (listeners--, target.removeEventListener(type, listener)),
    dispatch: (type: string) => target.dispatchEvent(new Event(type)),
    listeners: () => listeners,
  }
  return doc
}

/** Installs the fakes as the browser globals the link looks up when it connects. */
export function installBrowser(options: { channelDelayMs?: number } = {}) {
  const lockManager = fakeLocks()
  const doc = fakeDocument()
  vi.stubGlobal('navigator', { locks: lockManager.locks })
  vi.stubGlobal('BroadcastChannel', fakeBroadcastChannel(options.channelDelayMs))
  vi.stubGlobal('indexedDB', new IDBFactory())
  vi.stubGlobal('document', doc)
  return { ...lockManager, doc }
}

/** Resolves after `ms` (on the fake clock in these tests): staggers callers, never a synchronisation point. */
export const after = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
