/**
 * Raw TCP clients for what fetch cannot do: stall, trickle, send invalid
 * HTTP, pipeline, or bind to another loopback address.
 */
import { connect, type Socket } from 'node:net'

export interface RawSocket {
  socket: Socket
  /** Everything the server sent so far. */
  received(): string
  /** Resolves once the server closed the connection (or it was reset), with the time it took since connect. */
  closed: Promise<{ afterMs: number; reset: boolean }>
  write(text: string): void
  /** Resolves once `received()` satisfies `test`, or rejects after `timeoutMs`. */
  waitFor(test: (text: string) => boolean, timeoutMs?: number): Promise<string>
}

/** Opens a TCP connection to 127.0.0.1:`port` (from `localAddress` if given) and resolves once connected. */
export function openRaw(port: number, localAddress?: string): Promise<RawSocket> {
  const started = performance.now()
  const socket = connect({ port, host: '127.0.0.1', ...(localAddress ? { localAddress } : {}) })
  let text = ''
  const waiters = new Set<() => void>()
  socket.setEncoding('latin1')
  socket.on('data', (chunk: string) => {
    text += chunk
    for (const waiter of waiters) waiter()
  })
  let reset = false
  socket.on('error', () => {
    reset = true
  })
  const closed = new Promise<{ afterMs: number; reset: boolean }>((resolve) =>
    socket.on('close', () => {
      for (const waiter of waiters) waiter()
      resolve({ afterMs: performance.now() - started, reset })
    }),
  )
  const raw: RawSocket = {
    socket,
    received: () => text,
    closed,
    write: (chunk) => void socket.write(chunk),
    waitFor: (test, timeoutMs = 10_000) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          if (test(text)) {
            waiters.delete(check)
            clearTimeout(timer)
            resolve(text)
          } else if (socket.destroyed) {
            waiters.delete(check)
            clearTimeout(timer)
            reject(new Error(`connection closed before the expected answer; received: ${JSON.stringify(text.slice(0, 300))}`))
          }
        }
        const timer = setTimeout(() => {
          waiters.delete(check)
          reject(new Error(`no expected answer within ${timeoutMs} ms; received: ${JSON.stringify(text.slice(0, 300))}`))
        }, timeoutMs)
        waiters.add(check)
        check()
      }),
  }
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(raw))
    socket.once('error', reject)
  })
}

/** Splits raw HTTP/1.1 responses (Content-Length framed) into status, headers and body. */
export function parseResponses(text: string): Array<{ status: number; headers: Record<string, string>; body: string }> {
  const out: Array<{ status: number; headers: Record<string, string>; body: string }> = []
  let rest = text
  while (rest.startsWith('HTTP/1.1 ')) {
    const end = rest.indexOf('\r\n\r\n')
    if (end === -1) break
    const [statusLine = '', ...lines] = rest.slice(0, end).split('\r\n')
    const headers: Record<string, string> = {}
    for (const line of lines) {
      const i = line.indexOf(':')
      headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim()
    }
    const length = Number(headers['content-length'] ?? 0)
    out.push({ status: Number(statusLine.split(' ')[1]), headers, body: rest.slice(end + 4, end + 4 + length) })
    rest = rest.slice(end + 4 + length)
  }
  return out
}
