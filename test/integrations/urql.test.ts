// "silent-refresh/urql" with the real urql (@urql/core, @urql/exchange-auth,
// @urql/exchange-retry) over real HTTP: urql's own authExchange and its queue,
// configured by createAuthConfig(manager), against a graphql-http server that
// refuses expired tokens with a 401 or with UNAUTHENTICATED in a 200.
import { Client, fetchExchange, gql, type OperationResult, type TypedDocumentNode } from '@urql/core'
import { authExchange } from '@urql/exchange-auth'
import { retryExchange } from '@urql/exchange-retry'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createTokenManager, refreshTokenGrant, RefreshFailedError, SessionExpiredError, type TokenManager } from '../../src/index.js'
import { createAuthConfig, type UrqlAuthOptions } from '../../src/integrations/urql/index.js'
import { startGraphQLServer, type GraphQLServer } from '../helpers/graphql-server.js'
import { allSettledWithin, errorText } from '../helpers/token-server.js'

type Me = { me: { sub: string; gen: number } }
const ME: TypedDocumentNode<Me, { tag: number }> = gql`
  query Me($tag: Int) {
    me(tag: $tag) {
      sub
      gen
    }
  }
`
const LATE: TypedDocumentNode<Me> = gql`
  query Late {
    me {
      sub
      gen
    }
  }
`

let server: GraphQLServer
const managers: TokenManager[] = []
let tag = 0

beforeAll(async () => {
  server = await startGraphQLServer()
})
afterAll(() => server.close())
afterEach(() => {
  for (const manager of managers.splice(0)) manager.dispose()
  server.reset()
})

async function signedIn(sub = 'alice', now?: () => number) {
  const manager = createTokenManager({ refresh: refreshTokenGrant({ url: server.tokenUrl }), retry: { attempts: 1, baseDelayMs: 5 }, now })
  managers.push(manager)
  await manager.setTokens(server.issue(sub))
  return manager
}

function clientOf(manager: TokenManager, { retry, url = server.graphqlUrl, ...options }: UrqlAuthOptions & { retry?: boolean; url?: string } = {}) {
  const auth = authExchange(createAuthConfig(manager, { allowedOrigins: [server.url], ...options }))
  // urql's retryExchange in front of the authExchange: it retries what the auth exchange lets through.
  const exchanges = retry ? [retryExchange({ initialDelayMs: 1, maxDelayMs: 5, randomDelay: false, maxNumberAttempts: 4 }), auth, fetchExchange] : [auth, fetchExchange]
  return new Client({ url, exchanges, requestPolicy: 'network-only' })
}

const me = (client: Client): Promise<OperationResult<Me>> => client.query(ME, { tag: tag++ }).toPromise()
const gens = (results: PromiseSettledResult<OperationResult<Me>>[]) =>
  results.map((r) => (r.status === 'fulfilled' ? (r.value.data?.me.gen ?? r.value.error?.message) : r.reason))

describe.each(['401', 'errors'] as const)('a server that refuses with %s', (refusal) => {
  it('a burst of 50 after expiry: one refresh, 50 answers under the new token', async () => {
    server.state.refusal = refusal
    const client = clientOf(await signedIn())
    expect((await me(client)).data?.me).toMatchObject({ sub: 'alice', gen: 1 })
    server.expireAll()
    const results = await allSettledWithin(Array.from({ length: 50 }, () => me(client)), 15_000)
    expect(gens(results)).toEqual(Array(50).fill(2))
    expect(server.stats.refreshCalls).toBe(1)
    expect(server.stats.refused).toBe(50)
  })

  it('a late refusal, answered after the refresh: retried at once with the new token, no second refresh', async () => {
    server.state.refusal = refusal
    const client = clientOf(await signedIn())
    server.expireAll()
    const late = server.hold('Late')
    const slow = client.query(LATE, {}).toPromise()
    await late.arrived
    const burst = await allSettledWithin(Array.from({ length: 5 }, () => me(client)), 10_000)
    expect(gens(burst)).toEqual(Array(5).fill(2))
    expect(server.stats.refreshCalls).toBe(1)
    late.release()
    expect((await slow).data?.me.gen).toBe(2)
    // urql's authExchange alone refreshes again here: refreshAuth() does not know which token was refused.
    expect(server.stats.refreshCalls).toBe(1)
  })

  it('retries once: a second refusal comes back as urql gives it, without a second refresh', async () => {
    server.state.refusal = refusal
    const client = clientOf(await signedIn())
    server.state.refuseAll = true
    const { error } = await me(client)
    if (refusal === '401') expect(error?.response).toMatchObject({ status: 401 })
    else expect(error?.graphQLErrors).toMatchObject([{ extensions: { code: 'UNAUTHENTICATED' } }])
    expect(server.stats.refreshCalls).toBe(1)
    expect(server.log.filter((entry) => entry.operationName === 'Me')).toHaveLength(2)
  })
})

describe('refresh failures in urql’s error model, with retryExchange in front', () => {
  it('refused for good: a CombinedError whose networkError is the SessionExpiredError; one refresh, no request per retry', async () => {
    const manager = await signedIn()
    const client = clientOf(manager, { retry: true })
    server.expireAll()
    server.state.refreshMode = 'invalid_grant'
    const results = await allSettledWithin(Array.from({ length: 10 }, () => me(client)), 15_000)
    for (const result of results) {
      const { error } = (result as PromiseFulfilledResult<OperationResult<Me>>).value
      expect(error?.name).toBe('CombinedError')
      expect(error?.networkError).toBeInstanceOf(SessionExpiredError)
      for (const token of server.issued) expect(errorText(error)).not.toContain(token)
    }
    expect(server.stats.refreshCalls).toBe(1)
    expect(server.log).toHaveLength(10)
    expect(manager.getState()).toMatchObject({ status: 'signedOut', reason: 'expired' })
  })

  it('failed for now: RefreshFailedError, and retryExchange’s four tries make no more refreshes than one', async () => {
    const manager = await signedIn()
    const client = clientOf(manager, { retry: true })
    server.expireAll()
    server.state.refreshMode = '503'
    const results = await allSettledWithin(Array.from({ length: 10 }, () => me(client)), 15_000)
    for (const result of results) expect((result as PromiseFulfilledResult<OperationResult<Me>>).value.error?.networkError).toBeInstanceOf(RefreshFailedError)
    expect(server.stats.refreshCalls).toBe(2) // one refresh: its try and the manager's one retry
    expect(server.log).toHaveLength(10)
    server.state.refreshMode = 'ok'
    expect((await me(client)).data?.me.gen).toBe(2)
    expect(server.stats.refreshCalls).toBe(3)
  })
})

describe('urql’s queue, sessions and origins', () => {
  it('a token expired by the clock: operations wait in urql’s queue for one refresh and never go out with it', async () => {
    let clock = Date.now()
    const client = clientOf(await signedIn('alice', () => clock))
    clock += 60 * 60_000
    const results = await allSettledWithin(Array.from({ length: 20 }, () => me(client)), 10_000)
    expect(gens(results)).toEqual(Array(20).fill(1))
    expect(server.stats.refreshCalls).toBe(1)
    expect(server.stats.refused).toBe(0)
  })

  it('an operation of a session that ended is handed back, never sent under the next session', async () => {
    const manager = await signedIn('alice')
    const client = clientOf(manager)
    server.expireAll()
    const late = server.hold('Late')
    const slow = client.query(LATE, {}).toPromise()
    await late.arrived
    await manager.clear()
    await manager.setTokens(server.issue('bob'))
    late.release()
    expect((await slow).error?.response).toMatchObject({ status: 401 })
    // urql's queue sends it again, without a token: never with bob's.
    expect(server.log.filter((entry) => entry.operationName === 'Late').map((entry) => entry.sub)).toEqual(['alice', null])
    expect(server.stats.refreshCalls).toBe(0)
    expect((await me(client)).data?.me.sub).toBe('bob')
  })

  it('an operation to an origin that is not allowed gets no token and never refreshes', async () => {
    const manager = await signedIn()
    const client = clientOf(manager, { url: server.graphqlUrl.replace('127.0.0.1', 'localhost') })
    expect((await me(client)).error?.response).toMatchObject({ status: 401 })
    expect(server.log.at(-1)?.sub).toBeNull()
    expect(server.stats.refreshCalls).toBe(0)
  })

  it('context.skipAuth sends no token and never refreshes', async () => {
    const client = clientOf(await signedIn())
    const result = await client.query(ME, { tag: tag++ }, { skipAuth: true }).toPromise()
    expect(result.error?.response).toMatchObject({ status: 401 })
    expect(server.log.at(-1)?.sub).toBeNull()
    expect(server.stats.refreshCalls).toBe(0)
  })

  it('throws at the call when wired without a manager', () => {
    expect(() => createAuthConfig(undefined as unknown as TokenManager)).toThrow('createAuthConfig(manager, options?): "manager" must be the token manager')
  })
})
