// A small GraphQL API for the examples beside this file, on a free local port:
// GraphQL over HTTP (graphql-http) and over WebSocket (graphql-ws) at /graphql,
// and an OAuth refresh endpoint (RFC 6749 §6) at /auth/token that rotates
// refresh tokens. Access tokens are test JWTs from "silent-refresh/testing",
// valid for `accessTtlSec` or until `expireTokens()`. Like most GraphQL servers it refuses an expired
// token with `UNAUTHENTICATED` in a 200 over HTTP, and with a 4403 close at
// connection_init over WebSocket. Your own API takes its place.
import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { randomBytes } from 'node:crypto'
import { createRequire } from 'node:module'
import { createHandler } from 'graphql-http'
import { useServer } from 'graphql-ws/use/ws'
import { WebSocketServer } from 'ws'
import { mintTestJwt, verifyTestJwt } from 'silent-refresh/testing'

// The copy of graphql that graphql-http and graphql-ws load (Node's CommonJS main).
const { buildSchema, GraphQLError } = createRequire(import.meta.url)('graphql') as typeof import('graphql')

const schema = buildSchema(`
  type Query {
    "tag: any number, so that the same query can go out many times as distinct operations"
    me(tag: Int): String!
  }
  type Subscription { clock: String! }
`)

export async function startLocalApi({ accessTtlSec = 900 } = {}) {
  const secret = randomBytes(32).toString('base64url')
  const refreshTokens = new Map<string, string>() // refresh token → subject; a used one is deleted
  const stats = { refreshes: 0 }
  let generation = 1 // tokens of an older generation are refused: expireTokens()
  const issue = (sub: string) => {
    const refreshToken = randomBytes(24).toString('base64url')
    refreshTokens.set(refreshToken, sub)
    const iat = Math.floor(Date.now() / 1000)
    return { access_token: mintTestJwt({ sub, gen: generation, iat, exp: iat + accessTtlSec }, { secret }), token_type: 'Bearer', expires_in: accessTtlSec, refresh_token: refreshToken }
  }
  const subjectOf = (credentials: unknown) => {
    const claims = typeof credentials === 'string' ? verifyTestJwt(credentials.replace(/^Bearer /, ''), { secret }) : null
    return claims && claims.gen === generation && typeof claims.exp === 'number' && claims.exp > Date.now() / 1000 ? String(claims.sub) : null
  }
  const rootValue = {
    me: (_: unknown, { sub }: { sub: string | null }) => {
      if (!sub) throw new GraphQLError('Not signed in', { extensions: { code: 'UNAUTHENTICATED' } })
      return sub
    },
    clock: async function* () {
      for (;;) {
        yield { clock: new Date().toISOString() }
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
    },
  }
  const graphql = createHandler<IncomingMessage, { sub: string | null }, { sub: string | null }>({ schema, rootValue, context: (req) => req.context })

  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const body = Buffer.concat(chunks).toString()
    if (req.url === '/auth/token') {
      stats.refreshes++
      const token = new URLSearchParams(body).get('refresh_token') ?? ''
      const sub = refreshTokens.get(token)
      refreshTokens.delete(token)
      res.writeHead(sub ? 200 : 400, { 'content-type': 'application/json' })
      return res.end(JSON.stringify(sub ? issue(sub) : { error: 'invalid_grant' }))
    }
    const [text, init] = await graphql({
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      headers: { get: (name) => (req.headers[name.toLowerCase()] as string | undefined) ?? null },
      body,
      raw: req,
      context: { sub: subjectOf(req.headers.authorization) },
    })
    res.writeHead(init.status, init.headers as Record<string, string>).end(text)
  })
  const wss = new WebSocketServer({ server, path: '/graphql' })
  useServer<Record<string, unknown>, { sub?: string }>(
    {
      schema,
      roots: { query: rootValue, subscription: { clock: rootValue.clock } },
      onConnect: (ctx) => !!subjectOf(ctx.connectionParams?.Authorization), // false: 4403 Forbidden
    },
    wss,
  )
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    origin,
    stats,
    /** A login, without the form: the token response of a signed-in user. */
    login: (sub: string) => issue(sub),
    /** Refuses every access token issued so far, as if all had expired. */
    expireTokens: () => {
      generation++
    },
    /** Ends every WebSocket connection with `code`, as a server does when a token expires. */
    closeSockets: (code: number) => wss.clients.forEach((socket) => socket.close(code, 'Token expired')),
    close: () => {
      wss.clients.forEach((socket) => socket.terminate())
      wss.close()
      server.closeAllConnections()
      return new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
