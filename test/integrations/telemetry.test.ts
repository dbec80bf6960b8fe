// docs/telemetry.md: the example wired to a manager, over real HTTP, counts what
// happened, and never carries a token.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createTokenManager, type TokenManager } from '../../src/index.js'
import { createAuthFetch } from '../../src/adapters/fetch.js'
import { reportAuthTelemetry, type TelemetrySink } from '../../examples/telemetry/telemetry.js'
import { fetchRefresh, rejection, startTokenServer, type TokenServer } from '../helpers/token-server.js'

let server: TokenServer
beforeAll(async () => {
  server = await startTokenServer()
})
afterAll(() => server.close())
beforeEach(() => server.reset())

function recordingSink() {
  const counts = new Map<string, number>()
  const durations: [string, number][] = []
  const crumbs: string[] = []
  const key = (name: string, labels: Record<string, string> = {}) => `${name}${JSON.stringify(labels)}`
  const sink: TelemetrySink = {
    count: (name, labels) => counts.set(key(name, labels), (counts.get(key(name, labels)) ?? 0) + 1),
    observe: (name, ms, labels) => durations.push([key(name, labels), ms]),
    breadcrumb: (message, data) => crumbs.push(`${message} ${JSON.stringify(data)}`),
  }
  return { sink, counts, durations, crumbs, all: () => JSON.stringify([...counts, ...durations, ...crumbs]) }
}

async function setup(): Promise<{ manager: TokenManager; authFetch: typeof fetch; telemetry: ReturnType<typeof recordingSink> }> {
  const manager = createTokenManager({ refresh: fetchRefresh(server), retry: { attempts: 0 } })
  const telemetry = recordingSink()
  reportAuthTelemetry(manager, telemetry.sink)
  await manager.setTokens(server.issue())
  return { manager, authFetch: createAuthFetch(manager, { allowedOrigins: [server.url] }), telemetry }
}

describe('docs/telemetry.md: reportAuthTelemetry', () => {
  it('a burst after expiry: 20 "refresh" 401s, one refresh counted ok with its duration; then a terminal failure and its sign-out', async () => {
    const { authFetch, telemetry, manager } = await setup()
    server.expireAll()
    await Promise.all(Array.from({ length: 20 }, () => authFetch(`${server.url}/api/data`)))
    expect(telemetry.counts.get('auth_401_total{"outcome":"refresh"}')).toBe(20)
    expect(telemetry.counts.get('auth_refresh_total{"result":"ok"}')).toBe(1)
    expect(telemetry.durations.filter(([name]) => name.startsWith('auth_refresh_duration_ms'))).toHaveLength(1)

    server.expireAll()
    server.setRefreshMode('invalid_grant')
    await rejection(authFetch(`${server.url}/api/data`))
    expect(telemetry.counts.get('auth_refresh_total{"result":"terminal"}')).toBe(1)
    expect(telemetry.counts.get('auth_sign_out_total{"reason":"expired"}')).toBe(1)
    expect(telemetry.crumbs).toContain('refresh failed {"code":"SESSION_EXPIRED"}')
    manager.dispose()
  })

  it('a transient failure counts as transient; a late 401 after a refresh counts as a retry, not a second refresh', async () => {
    const { authFetch, telemetry, manager } = await setup()
    server.expireAll()
    server.setRefreshMode('503')
    await rejection(authFetch(`${server.url}/api/data`))
    expect(telemetry.counts.get('auth_refresh_total{"result":"transient"}')).toBe(1)
    manager.dispose()

    const second = await setup()
    server.setRefreshMode('ok')
    server.expireAll()
    const late = second.authFetch(`${server.url}/api/data?delay=300`) // sent with the old token, answered late
    expect((await second.authFetch(`${server.url}/api/data`)).status).toBe(200)
    expect((await late).status).toBe(200)
    expect(second.telemetry.counts.get('auth_401_total{"outcome":"retry"}')).toBe(1)
    expect(second.telemetry.counts.get('auth_refresh_total{"result":"ok"}')).toBe(1)
    second.manager.dispose()
  })

  it('nothing it records holds a token', async () => {
    const { authFetch, telemetry, manager } = await setup()
    server.expireAll()
    await authFetch(`${server.url}/api/data`)
    server.expireAll()
    server.setRefreshMode('invalid_grant')
    await rejection(authFetch(`${server.url}/api/data`))
    const recorded = telemetry.all()
    expect(server.issued.length).toBeGreaterThan(2)
    for (const token of server.issued) expect(recorded).not.toContain(token)
    manager.dispose()
  })
})
