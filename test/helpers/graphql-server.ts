// A real GraphQL server for the Apollo, urql and graphql-ws tests, on one port:
// GraphQL over HTTP at /graphql (graphql-http, the reference implementation of
// the GraphQL-over-HTTP spec), GraphQL over WebSocket at the same path
// (graphql-ws on ws), and an RFC 6749 §6 refresh endpoint at /auth/token with
// strict rotation and reuse detection. Access tokens are test JWTs from
// "silent-refresh/testing" (HS256, with a generation that expireAll() retires);
// the schema is real graphql-js. Requests can be held at the door (hold()) so
// a test orders a race by events, not by sleeps.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { randomBytes } from 'node:crypto'
import { createRequire } from 'node:module'
import { createHandler } from 'graphql-http'
import { useServer } from 'graphql-ws/use/ws'
import { WebSocketServer, type WebSocket } from 'ws'
import { mintTestJwt, verifyTestJwt } from '../../src/testing/jwt.js'

// graphql 16 has no "exports": Node (and so graphql-http and graphql-ws, loaded by Node) takes its
// CommonJS main, while Vite would give this file its "module" build, another copy that graphql-js
// refuses to mix ("Cannot use GraphQLSchema from another module or realm"). Load the one Node loads.
const { buildSchema, GraphQLError } = createRequire(import.meta.url)('graphql') as typeof import('graphql')

/** How the server refuses a token over HTTP: a 401, or a 200 whose GraphQL errors say UNAUTHENTICATED. */
export type Refusal = '401' | 'errors'
export type RefreshMode = 'ok' | 'invalid_grant' | '503'

export interface GraphQLServerStats {
  refreshCalls: number
  /** GraphQL requests over HTTP whose token was refused. */
  refused: number
  /** GraphQL requests over HTTP that were served for a valid token. */
  served: number
  /** WebSocket connections acknowledged (a valid token in connection_init). */
  wsConnected: number
  /** WebSocket connections refused at connection_init. */
  wsRefused: number
  /** Subscriptions started (over all connections). */
  subscribed: number
}

interface Claims {
  sub: string
  gen: number
  exp: number
}

const schema = buildSchema(/* GraphQL */ `
  type Viewer {
    sub: String!
    gen: Int!
  }
  type Tick {
    n: Int!
    sub: String!
  }
  type Query {
    "tag: any number, so that a burst of the same query is a burst of distinct operations (urql dedups by key)"
    me(tag: Int): Viewer!
  }
  type Mutation {
    rename(name: String!): String!
  }
  type Subscription {
    ticks: Tick!
  }
`)

const unauthenticated = () => new GraphQLError('Not signed in', { extensions: { code: 'UNAUTHENTICATED' } })

export async function startGraphQLServer(options: { refusal?: Refusal; wsRefusal?: 4401 | 4403; refreshLatencyMs?: number } = {}) {
  const secret = randomBytes(32).toString('base64url')
  const state = { refuseAll: false, generation: 1, refusal: options.refusal ?? '401', wsRefusal: options.wsRefusal ?? 4403, refreshMode: 'ok' as RefreshMode }
  const stats: GraphQLServerStats = { refreshCalls: 0, refused: 0, served: 0, wsConnected: 0, wsRefused: 0, subscribed: 0 }
  const refreshTokens = new Map<string, { status: 'active' | 'rotated'; family: string; sub: string }>()
  const revoked = new Set<string>()
  /** Every token issued, to check none leaks into an error. */
  const issued: string[] = []
  /** The subject of each acknowledged WebSocket connection and the generation of its token, in order. */
  const connections: { sub: string; gen: number }[] = []
  /** The names of the fields of each connection_init payload, in order. */
  const initFields: string[][] = []
  /** Each GraphQL request over HTTP: its operation, the subject its token named (valid or not; null: no token) and whether it was served. */
  const log: { operationName: string | undefined; sub: string | null; served: boolean }[] = []
  const sockets = new Set<WebSocket>()
  const subscribers = new Set<(n: number) => void>()
  const holds = new Map<string, { arrived: () => void; released: Promise<void> }[]>()
  let refreshHold: { arrived: () => void; released: Promise<void> } | undefined

  function issue(sub = 'alice', family = randomBytes(8).toString('hex')) {
    const accessToken = mintTestJwt({ sub, gen: state.generation, jti: randomBytes(6).toString('hex') }, { secret })
    const refreshToken = randomBytes(24).toString('base64url')
    refreshTokens.set(refreshToken, { status: 'active', family, sub })
    issued.push(accessToken, refreshToken)
    return { accessToken, refreshToken }
  }

  function verify(credentials: unknown): Claims | null {
    if (typeof credentials !== 'string' || !credentials.startsWith('Bearer ')) return null
    const claims = verifyTestJwt(credentials.slice('Bearer '.length), { secret }) as Partial<Claims> | null
    if (!claims || typeof claims.gen !== 'number' || typeof claims.exp !== 'number' || typeof claims.sub !== 'string') return null
    if (state.refuseAll || claims.gen < state.generation || claims.exp <= Date.now() / 1000) return null
    return claims as Claims
  }

  /** The subject a token names, read without checking it (for the log). */
  function subjectOf(credentials: unknown): string | null {
    if (typeof credentials !== 'string') return null
    const claims = verifyTestJwt(credentials.replace(/^Bearer /, ''), { secret }) as { sub?: string } | null
    return claims?.sub ?? 'invalid'
  }

  const rootValue = {
    me: (_: unknown, context: { viewer: Claims | null }) => {
      if (!context.viewer) throw unauthenticated()
      return { sub: context.viewer.sub, gen: context.viewer.gen }
    },
    rename: ({ name }: { name: string }, context: { viewer: Claims | null }) => {
      if (!context.viewer) throw unauthenticated()
      return `${context.viewer.sub} is now ${name}`
    },
    ticks: (_: unknown, context: { viewer: Claims }) => ticks(context.viewer.sub),
  }

  /** One subscriber's stream of ticks, as an async iterator that ends when the client unsubscribes. */
  function ticks(sub: string): AsyncIterableIterator<{ ticks: { n: number; sub: string } }> {
    const queue: number[] = []
    let wake: (() => void) | undefined
    const push = (n: number) => {
      queue.push(n)
      wake?.()
    }
    subscribers.add(push)
    stats.subscribed++
    const iterator: AsyncIterableIterator<{ ticks: { n: number; sub: string } }> = {
      async next() {
        while (!queue.length) {
          if (!subscribers.has(push)) return { done: true, value: undefined }
          await new Promise<void>((resolve) => (wake = resolve))
        }
        return { done: false, value: { ticks: { n: queue.shift()!, sub } } }
      },
      async return() {
        subscribers.delete(push)
        wake?.()
        return { done: true, value: undefined }
      },
      [Symbol.asyncIterator]: () => iterator,
    }
    return iterator
  }

  const graphql = createHandler<IncomingMessage, { viewer: Claims | null }, { viewer: Claims | null }>({ schema, rootValue, context: (req) => req.context })

  function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers })
    res.end(JSON.stringify(body))
  }

  async function readBody(req: IncomingMessage): Promise<string> {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    return Buffer.concat(chunks).toString()
  }

  async function refresh(body: string, res: ServerResponse) {
    stats.refreshCalls++
    if (refreshHold) {
      const hold = refreshHold
      refreshHold = undefined
      hold.arrived()
      await hold.released
    }
    if (options.refreshLatencyMs) await new Promise((resolve) => setTimeout(resolve, options.refreshLatencyMs))
    if (state.refreshMode === '503') return json(res, 503, { error: 'temporarily_unavailable' })
    const form = new URLSearchParams(body)
    const token = form.get('refresh_token')
    if (form.get('grant_type') !== 'refresh_token' || !token) return json(res, 400, { error: 'invalid_request' })
    const record = refreshTokens.get(token)
    if (state.refreshMode === 'invalid_grant' || !record) return json(res, 400, { error: 'invalid_grant' })
    if (record.status !== 'active' || revoked.has(record.family)) {
      revoked.add(record.family) // reuse of a rotated token revokes the family (RFC 9700 §4.14.2)
      return json(res, 400, { error: 'invalid_grant', error_description: 'refresh token reused' })
    }
    record.status = 'rotated'
    const pair = issue(record.sub, record.family)
    json(res, 200, { access_token: pair.accessToken, token_type: 'Bearer', expires_in: 900, refresh_token: pair.refreshToken })
  }

  async function serveGraphQL(req: IncomingMessage, res: ServerResponse, body: string) {
    // urql sends queries as GET (the query in the URL), Apollo as POST: read the name from either.
    const params = new URL(req.url ?? '/', 'http://x').searchParams
    let request: { operationName?: unknown; query?: unknown } = { operationName: params.get('operationName'), query: params.get('query') }
    try {
      if (body) request = JSON.parse(body) as typeof request
    } catch {
      // graphql-http answers a malformed body itself.
    }
    const named = typeof request.query === 'string' ? /\b(?:query|mutation)\s+(\w+)/.exec(request.query)?.[1] : undefined
    const operationName = typeof request.operationName === 'string' ? request.operationName : named
    const hold = typeof operationName === 'string' ? holds.get(operationName)?.shift() : undefined
    if (hold) {
      hold.arrived()
      await hold.released
    }
    const viewer = verify(req.headers.authorization)
    log.push({ operationName: typeof operationName === 'string' ? operationName : undefined, sub: subjectOf(req.headers.authorization), served: !!viewer })
    if (viewer) stats.served++
    else stats.refused++
    if (!viewer && state.refusal === '401') {
      return json(res, 401, { errors: [{ message: 'Not signed in', extensions: { code: 'UNAUTHENTICATED' } }] }, { 'www-authenticate': 'Bearer error="invalid_token"' })
    }
    const [text, init] = await graphql({
      method: req.method ?? 'POST',
      url: req.url ?? '/graphql',
      headers: { get: (name: string) => (req.headers[name.toLowerCase()] as string | undefined) ?? null },
      body,
      raw: req,
      context: { viewer },
    })
    res.writeHead(init.status, init.headers as Record<string, string>)
    res.end(text)
  }

  const server = createServer((req, res) => {
    void (async () => {
      const path = new URL(req.url ?? '/', 'http://x').pathname
      const body = await readBody(req)
      if (path === '/auth/token' && req.method === 'POST') return refresh(body, res)
      if (path === '/graphql') return serveGraphQL(req, res, body)
      json(res, 404, { error: 'not_found' })
    })().catch((error: unknown) => {
      if (!res.headersSent) json(res, 500, { error: String(error) })
    })
  })
  server.keepAliveTimeout = 1000

  const wss = new WebSocketServer({ server, path: '/graphql' })
  wss.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  const wsServer = useServer<Record<string, unknown>, { viewer?: Claims }>(
    {
      schema,
      roots: { subscription: { ticks: rootValue.ticks }, query: rootValue, mutation: rootValue },
      context: (ctx) => ({ viewer: ctx.extra.viewer ?? null }),
      onConnect: (ctx) => {
        initFields.push(Object.keys(ctx.connectionParams ?? {}))
        const viewer = verify(ctx.connectionParams?.Authorization)
        if (!viewer) {
          stats.wsRefused++
          if (state.wsRefusal === 4401) ctx.extra.socket.close(4401, 'Unauthorized')
          return false // graphql-ws closes with 4403 Forbidden
        }
        ctx.extra.viewer = viewer
        connections.push({ sub: viewer.sub, gen: viewer.gen })
        stats.wsConnected++
        return true
      },
    },
    wss,
  )

  await new Promise<void>((resolve) => server.listen({ port: 0, host: '127.0.0.1' }, resolve))
  const { port } = server.address() as AddressInfo
  const url = `http://127.0.0.1:${port}`

  return {
    url,
    graphqlUrl: `${url}/graphql`,
    wsUrl: `ws://127.0.0.1:${port}/graphql`,
    tokenUrl: `${url}/auth/token`,
    stats,
    state,
    issued,
    connections,
    initFields,
    log,
    /** A signed-in session (of `sub`, default alice) without a login. */
    issue: (sub?: string) => issue(sub),
    /** Rejects every access token issued so far, as if all had expired on the server. */
    expireAll() {
      state.generation++
    },
    /**
     * Holds the next GraphQL request named `operationName` at the door: `arrived`
     * resolves when it is there; it is judged (token, answer) after `release()`.
     */
    hold(operationName: string) {
      let arrived!: () => void
      let release!: () => void
      const seen = new Promise<void>((resolve) => (arrived = resolve))
      const released = new Promise<void>((resolve) => (release = resolve))
      holds.set(operationName, [...(holds.get(operationName) ?? []), { arrived, released }])
      return { arrived: seen, release }
    },
    /** Holds the next refresh the same way. */
    holdRefresh() {
      let arrived!: () => void
      let release!: () => void
      const seen = new Promise<void>((resolve) => (arrived = resolve))
      refreshHold = { arrived, released: new Promise<void>((resolve) => (release = resolve)) }
      return { arrived: seen, release }
    },
    /** Closes every open WebSocket from the server's side, as a server does when a token expires. */
    closeSockets(code: number, reason: string) {
      for (const socket of sockets) socket.close(code, reason)
    },
    /** The number of open WebSockets. */
    openSockets: () => sockets.size,
    /** Sends tick `n` to every subscriber. */
    publish(n: number) {
      for (const push of subscribers) push(n)
    },
    subscriberCount: () => subscribers.size,
    reset() {
      state.refreshMode = 'ok'
      state.refuseAll = false
      state.generation = 1
      log.length = 0
      state.refusal = options.refusal ?? '401'
      state.wsRefusal = options.wsRefusal ?? 4403
      for (const key of Object.keys(stats) as (keyof GraphQLServerStats)[]) stats[key] = 0
      connections.length = 0
      initFields.length = 0
      holds.clear()
      refreshHold = undefined
    },
    async close() {
      for (const socket of sockets) socket.terminate()
      await wsServer.dispose()
      await new Promise<void>((resolve) => wss.close(() => resolve()))
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

export type GraphQLServer = Awaited<ReturnType<typeof startGraphQLServer>>
