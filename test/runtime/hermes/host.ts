// The smallest host around the Hermes VM that gives a script what React Native
// 0.73 gives an app, for test/runtime/hermes.test.ts. Runs first in the bundle.
//
// What the Hermes CLI (hermes-engine-cli 0.12.0) offers: print(); Promise with a
// microtask queue (run with -Xmicrotask-queue: jobs drain after each task, as in
// RN); a setTimeout that runs callbacks in the order they were scheduled, ignoring
// the delay; no console, no I/O. What this adds:
// - timers (RN: JSTimers over the native Timing module): a queue by deadline on a
//   virtual clock that jumps to each deadline as its timer runs, one task per timer.
//   A 15-minute token lifetime passes at once and in order: fake timers, as the
//   project's other time-dependent tests use. `now()` is that clock, for the SDK's
//   `now` option and the in-VM server;
// - console, to print(), as RN's console polyfill writes to nativeLoggingHook;
//   an error thrown by a timer is reported (RN: ErrorUtils), not fatal;
// - queueMicrotask: RN 0.73's own (Libraries/Core/Timers/queueMicrotask.js);
// - window and self = the global object, process.env.NODE_ENV, navigator.product:
//   RN's setUpGlobals.js and setUpNavigator.js;
// - XMLHttpRequest: stands for RN's XMLHttpRequest and native networking module. A
//   request goes to `network` (the in-VM server) instead of a socket. Its body is
//   what RN's convertRequestBody and Android's NetworkingModule make of it: a string
//   as it is, any other object (a URLSearchParams, say) an empty body ("Nothing in
//   data payload, at least nothing we could understand anyway"). Responses come back
//   as text (RN hands whatwg-fetch a Blob of the same bytes).
import queueMicrotask from '../react-native/0.73.11/queueMicrotask.js.flow'

declare const print: (...values: unknown[]) => void

/** A request as the native networking module receives it. */
export interface NativeRequest {
  method: string
  url: string
  headers: Record<string, string>
  body: string
}
/** What the in-VM server answers; an Error for a connection that fails. */
export interface NativeResponse {
  status: number
  headers: Record<string, string>
  body: string
}

const hostTask = (globalThis as unknown as { setTimeout(run: () => void, ms: number): unknown }).setTimeout

interface Timer {
  id: number
  at: number
  run: () => void
}
const timers = new Map<number, Timer>()
let clock = Date.now()
/** Past this much virtual time something waits for ever (a keep-alive never released): stop and say so. */
const HORIZON = clock + 7 * 24 * 3_600_000
let lastId = 0
let pumpQueued = false

/** Errors thrown by timers, reported as React Native would report them (a red box), not fatal. */
export const uncaught: string[] = []

/** Runs the timer with the earliest deadline (the earliest set, on a tie) as one task. */
function pump() {
  pumpQueued = false
  let next: Timer | undefined
  for (const timer of timers.values()) if (!next || timer.at < next.at) next = timer
  if (!next) return
  if (next.at > HORIZON) {
    uncaught.push(`a timer is due ${new Date(next.at).toISOString()}, a week of virtual time away: something still waits (a keep-alive never released?)`)
    timers.clear()
    return
  }
  timers.delete(next.id)
  clock = Math.max(clock, next.at)
  try {
    next.run()
  } catch (error) {
    uncaught.push(String((error as Error)?.stack ?? error))
  }
  queuePump()
}

function queuePump() {
  if (!pumpQueued && timers.size > 0) {
    pumpQueued = true
    hostTask(pump, 0)
  }
}

function addTimer(run: () => void, ms: number): number {
  const id = ++lastId
  timers.set(id, { id, at: clock + Math.max(0, Number(ms) || 0), run })
  queuePump()
  return id
}

/** The virtual clock, epoch ms. */
export const now = (): number => clock

/** Resolves once `ms` of virtual time have passed. */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => addTimer(resolve, ms))

const log =
  (level: string) =>
  (...values: unknown[]) =>
    print(`[${level}] ${values.map((value) => (typeof value === 'string' ? value : String((value as Error)?.stack ?? JSON.stringify(value)))).join(' ')}`)

/** Where the XMLHttpRequest stand-in sends requests; set by the server. */
export let network: (request: NativeRequest) => Promise<NativeResponse> = () => Promise.reject(new Error('no network'))
export const setNetwork = (handler: typeof network): void => {
  network = handler
}

/** RN's convertRequestBody plus Android's NetworkingModule: a string is sent, anything else it cannot read as empty. */
function nativeBody(body: unknown): string {
  if (body == null) return ''
  if (typeof body === 'string') return body
  return ''
}

class HostXMLHttpRequest {
  readyState = 0
  status = 0
  statusText = ''
  responseURL = ''
  responseText = ''
  withCredentials = false
  onload: (() => void) | null = null
  onerror: (() => void) | null = null
  ontimeout: (() => void) | null = null
  onabort: (() => void) | null = null
  onreadystatechange: (() => void) | null = null
  private method = 'GET'
  private url = ''
  private readonly requestHeaders: Record<string, string> = {}
  private responseHeaders = ''
  private aborted = false

  open(method: string, url: string) {
    this.method = method.toUpperCase()
    this.url = url
    this.readyState = 1
  }

  setRequestHeader(name: string, value: string) {
    const key = name.toLowerCase()
    this.requestHeaders[key] = key in this.requestHeaders ? `${this.requestHeaders[key]}, ${value}` : value
  }

  getAllResponseHeaders() {
    return this.responseHeaders
  }

  send(body?: unknown) {
    const request = { method: this.method, url: this.url, headers: { ...this.requestHeaders }, body: nativeBody(body) }
    network(request).then(
      (response) => {
        if (this.aborted) return
        this.status = response.status
        this.statusText = String(response.status)
        this.responseURL = this.url
        this.responseText = response.body
        this.responseHeaders = Object.entries(response.headers)
          .map(([name, value]) => `${name}: ${value}\r\n`)
          .join('')
        this.done(this.onload)
      },
      () => {
        if (!this.aborted) this.done(this.onerror)
      },
    )
  }

  abort() {
    if (this.aborted || this.readyState === 4) return
    this.aborted = true
    this.done(this.onabort)
  }

  private done(handler: (() => void) | null) {
    this.readyState = 4
    this.onreadystatechange?.()
    handler?.()
  }
}

const global = globalThis as unknown as Record<string, unknown>
Object.assign(global, {
  setTimeout: (run: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => addTimer(() => run(...args), ms ?? 0),
  clearTimeout: (id: number) => void timers.delete(id),
  setImmediate: (run: (...args: unknown[]) => void, ...args: unknown[]) => addTimer(() => run(...args), 0),
  clearImmediate: (id: number) => void timers.delete(id),
  // RN's setInterval repeats on the native Timing module; here on the virtual clock. The SDK
  // holds one (a keep-alive) while a caller waits, and clears it when the wait ends.
  setInterval: (run: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
    const every = Math.max(1, Number(ms) || 0)
    const id = ++lastId
    const arm = (from: number) => {
      timers.set(id, { id, at: from + every, run: () => (arm(clock), run(...args)) })
      queuePump()
    }
    arm(clock)
    return id
  },
  clearInterval: (id: number) => void timers.delete(id),
  queueMicrotask,
  console: {
    log: log('log'),
    info: log('info'),
    warn: log('warn'),
    error: log('error'),
    debug: log('debug'),
    trace: log('trace'),
    // event-target-shim (under RN's AbortController) calls it on every dispatch.
    assert: (condition: unknown, ...values: unknown[]) => {
      if (!condition) log('error')('Assertion failed:', ...values)
    },
  },
  XMLHttpRequest: HostXMLHttpRequest,
  window: global,
  self: global,
  process: { env: { NODE_ENV: 'production' } },
  navigator: { product: 'ReactNative' },
})
