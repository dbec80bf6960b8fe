import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { SigningKeys } from '../tokens/keys.ts'

const Jwks = Type.Object(
  {
    keys: Type.Array(
      Type.Object(
        {
          kty: Type.String(),
          crv: Type.String(),
          x: Type.String(),
          kid: Type.String(),
          alg: Type.String(),
          use: Type.String(),
        },
        // Only public members: a private "d" can never be serialized here.
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
)

/** `GET /.well-known/jwks.json` — the public key(s) that verify access tokens (RFC 7517). */
const wellKnownRoutes: FastifyPluginAsyncTypebox<{ keys: SigningKeys }> = async (app, options) => {
  const { kty, crv, x, kid, alg, use } = options.keys.publicJwk
  const jwks = { keys: [{ kty: String(kty), crv: String(crv), x: String(x), kid: String(kid), alg: String(alg), use: String(use) }] }
  app.get(
    '/.well-known/jwks.json',
    { schema: { response: { 200: Jwks } } },
    async (_request, reply) => {
      reply.header('cache-control', 'public, max-age=300')
      return jwks
    },
  )
}

export default wellKnownRoutes
