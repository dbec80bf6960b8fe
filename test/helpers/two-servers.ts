import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest'
import type { TokenManager } from '../../src/index.js'
import { startTokenServer, type TokenServer } from './token-server.js'

/**
 * For a test file: two real token servers on two ports (two origins: `server`
 * issues the tokens, `other` is somewhere they must not go), started once,
 * reset before each test; the managers pushed to `managers` are disposed after
 * each. `servers` is filled in `beforeAll`: read it from a hook or a test.
 */
export function useTwoTokenServers(): { servers: { server: TokenServer; other: TokenServer }; managers: TokenManager[] } {
  const servers = {} as { server: TokenServer; other: TokenServer }
  const managers: TokenManager[] = []
  beforeAll(async () => {
    ;[servers.server, servers.other] = await Promise.all([startTokenServer(), startTokenServer()])
  })
  afterAll(async () => {
    await Promise.all([servers.server?.close(), servers.other?.close()])
  })
  beforeEach(() => {
    servers.server.reset()
    servers.other.reset()
  })
  afterEach(() => {
    for (const manager of managers.splice(0)) manager.dispose()
  })
  return { servers, managers }
}
