import type { FastifyInstance } from 'fastify'
import type { SigningKeys } from '../tokens/keys.ts'

/** `GET /.well-known/jwks.json` — the public key(s) that verify access tokens (RFC 7517). */
export default async function wellKnownRoutes(app: FastifyInstance, options: { keys: SigningKeys }): Promise<void> {
  const jwks = { keys: [options.keys.publicJwk] }
  app.get(
    '/.well-known/jwks.json',
    {
      schema: {
        response: {
          200: {
            type: 'object',
            required: ['keys'],
            additionalProperties: false,
            properties: {
              keys: {
                type: 'array',
                items: {
                  type: 'object',
                  // Only public members: a private "d" can never be serialized here.
                  additionalProperties: false,
                  properties: {
                    kty: { type: 'string' },
                    crv: { type: 'string' },
                    x: { type: 'string' },
                    kid: { type: 'string' },
                    alg: { type: 'string' },
                    use: { type: 'string' },
                  },
                },
              },
            },
          },
        },
      },
    },
    async (_request, reply) => {
      reply.header('cache-control', 'public, max-age=300')
      return jwks
    },
  )
}
