/**
 * Slow, stalled and idle clients over a real port: the header, request and
 * idle timeouts close their sockets with a 408 in the common error shape, a
 * legitimately slow response is not cut off, and one address cannot hold
 * more than its share of connections.
 */
import type { AddressInfo } from 'node:net'
import { describe, expect, it } from 'vitest'
import { addressKey } from '../src/client-address.ts'
import type { AppOptions } from '../src/app.ts'
import { build } from './helpers/build.ts'
import { openRaw, parseResponses, type RawSocket } from './helpers/raw-http.ts'

/** Short limits so the test waits fractions of a second; production values are in the README. */
const SHORT = { headersMs: 300, requestMs: 600, keepAliveMs: 1000, idleMs: 5000 }
/** Generous upper bound for "was closed by the timeout" on a loaded machine (Fastify's defaults never close these). */
const WITHIN_MS = 8000

async function listening(options: Partial<AppOptions> = {}) {
  const ctx = await build({ timeouts: SHORT, maxSlowDelayMs: 2000, ...options })
  await ctx.app.listen({ port: 0, host: '127.0.0.1' })
  return { ctx, port: (ctx.app.server.address() as AddressInfo).port }
}

/** Waits for the server to close the socket (failing after WITHIN_MS) and returns its one response. */
async function closedWith(raw: RawSocket): Promise<{ status: number; body: unknown; afterMs: number }> {
  const closed = await Promise.race([raw.closed, new Promise<null>((resolve) => setTimeout(() => resolve(null), WITHIN_MS))])
  if (!closed) {
    raw.socket.destroy()
    throw new Error(`the server kept the socket open for ${WITHIN_MS} ms`)
  }
  const [res] = parseResponses(raw.received())
  return { status: res?.status ?? 0, body: res ? JSON.parse(res.body) : null, afterMs: closed.afterMs }
}

const TIMEOUT_BODY = { error: 'request_timeout', error_description: 'The request did not arrive in time.' }

describe('request timeouts, over a real port', () => {
  it('a socket that connects and sends nothing is closed with 408', async () => {
    const { port } = await listening()
    const raw = await openRaw(port)
    expect(await closedWith(raw)).toMatchObject({ status: 408, body: TIMEOUT_BODY })
  })

  it('headers that stall halfway are closed with 408', async () => {
    const { port } = await listening()
    const raw = await openRaw(port)
    raw.write('GET /healthz HTTP/1.1\r\nHost: x\r\n')
    expect(await closedWith(raw)).toMatchObject({ status: 408, body: TIMEOUT_BODY })
  })

  it('headers that trickle in (a line every 50 ms, for ever) are closed with 408', async () => {
    const { port } = await listening()
    const raw = await openRaw(port)
    raw.write('GET /healthz HTTP/1.1\r\nHost: x\r\n')
    const drip = setInterval(() => raw.write('X-Drip: 1\r\n'), 50)
    try {
      expect(await closedWith(raw)).toMatchObject({ status: 408, body: TIMEOUT_BODY })
    } finally {
      clearInterval(drip)
    }
  })

  it('a body that stalls is closed with 408, and nothing reaches the route', async () => {
    const { ctx, port } = await listening()
    const raw = await openRaw(port)
    raw.write('POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"username":')
    expect(await closedWith(raw)).toMatchObject({ status: 408, body: TIMEOUT_BODY })
    expect(ctx.hasher.calls.verify).toBe(0)
  })

  it('a body that trickles in (a byte every 50 ms) is closed with 408', async () => {
    const { port } = await listening()
    const raw = await openRaw(port)
    raw.write('POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n')
    const drip = setInterval(() => raw.write(' '), 50)
    try {
      expect(await closedWith(raw)).toMatchObject({ status: 408, body: TIMEOUT_BODY })
    } finally {
      clearInterval(drip)
    }
  })

  it('a response slower than the request timeout is still delivered (the limits are on the client, not the handler)', async () => {
    const { ctx, port } = await listening()
    const access = (await ctx.login()).json().access_token as string
    const res = await fetch(`http://127.0.0.1:${port}/api/slow?delay_ms=${SHORT.requestMs + 400}`, { headers: { authorization: `Bearer ${access}` } })
    expect(res.status).toBe(200)
  })

  it('an idle keep-alive connection is closed after the keep-alive timeout', async () => {
    const { port } = await listening()
    const raw = await openRaw(port)
    raw.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n')
    await raw.waitFor((text) => parseResponses(text).length === 1)
    const closed = await closedWith(raw)
    expect(closed.status).toBe(200)
  })

  it('buildApp refuses limits that contradict each other, naming them', async () => {
    await expect(build({ timeouts: { headersMs: 5000, requestMs: 1000 } })).rejects.toThrow('"timeouts.requestMs" must be at least "timeouts.headersMs"')
    await expect(build({ timeouts: { idleMs: 5000 }, maxSlowDelayMs: 5000 })).rejects.toThrow('"timeouts.idleMs" must be longer than "maxSlowDelayMs"')
    await expect(build({ maxConnectionsPerAddress: -1 })).rejects.toThrow('"maxConnectionsPerAddress"')
  })
})

describe('connections per address, over a real port', () => {
  it('with the defaults, one address holding 100 stalled sockets keeps at most 64, and another address is served', async () => {
    // Default cap; a long header timeout so the stalled sockets stay for the whole test.
    const { port } = await listening({ timeouts: { headersMs: 60_000, requestMs: 60_000, idleMs: 120_000 } })
    const hog = await Promise.all(Array.from({ length: 100 }, () => openRaw(port, '127.0.0.1')))
    for (const raw of hog) raw.write('GET /healthz HTTP/1.1\r\n')
    // Those over the cap are closed by the server without an answer; the rest stay open.
    await Promise.all(hog.slice(64).map((raw) => raw.closed))
    expect(hog.filter((raw) => !raw.socket.destroyed)).toHaveLength(64)
    expect(hog.slice(64).every((raw) => raw.received() === '')).toBe(true)

    // Another client (fetch cannot choose its source address; a raw socket can).
    const neighbour = await openRaw(port, '127.0.0.2')
    neighbour.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    await neighbour.closed
    expect(parseResponses(neighbour.received())[0]?.status).toBe(200)

    // When the hog lets go, the address gets connections again.
    hog[0]!.socket.destroy()
    await hog[0]!.closed
    await new Promise((resolve) => setImmediate(resolve))
    const again = await openRaw(port, '127.0.0.1')
    again.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    await again.closed
    expect(parseResponses(again.received())[0]?.status).toBe(200)
    for (const raw of hog) raw.socket.destroy()
  })

  it('the cap comes from options; 0 turns it off', async () => {
    const capped = await listening({ maxConnectionsPerAddress: 2, timeouts: { headersMs: 60_000, requestMs: 60_000, idleMs: 120_000 } })
    const three = await Promise.all([1, 2, 3].map(() => openRaw(capped.port)))
    await three[2]!.closed
    expect(three.filter((raw) => !raw.socket.destroyed)).toHaveLength(2)
    for (const raw of three) raw.socket.destroy()

    const open = await listening({ maxConnectionsPerAddress: 0, timeouts: { headersMs: 60_000, requestMs: 60_000, idleMs: 120_000 } })
    const many = await Promise.all(Array.from({ length: 80 }, () => openRaw(open.port)))
    many[0]!.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n')
    await many[0]!.waitFor((text) => parseResponses(text).length === 1)
    expect(many.filter((raw) => !raw.socket.destroyed)).toHaveLength(80)
    for (const raw of many) raw.socket.destroy()
  })
})

describe('addressKey', () => {
  it.each([
    ['203.0.113.7', '203.0.113.7'],
    ['::ffff:203.0.113.7', '203.0.113.7'],
    ['2001:db8:1:2:aaaa:bbbb:cccc:dddd', '2001:db8:1:2::/64'],
    ['2001:db8:1:2::1', '2001:db8:1:2::/64'],
    ['2001:DB8:0001:0002::ffff', '2001:db8:1:2::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    [undefined, 'unknown'],
  ])('%s → %s', (ip, key) => {
    expect(addressKey(ip)).toBe(key)
  })
})
