import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ErrorBody } from '../schemas.ts'

const Health = Type.Object({ status: Type.Union([Type.Literal('ok'), Type.Literal('unavailable')]) }, { additionalProperties: false })

/** `GET /healthz` — 200 `{ status: 'ok' }` when the store answers, else 503. */
const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/healthz',
    {
      logLevel: 'warn',
      // 503 is also the shutdown answer, in the common error shape.
      schema: { response: { 200: Health, 503: Type.Union([Health, ErrorBody]) } },
    },
    async (request, reply) => {
      reply.header('cache-control', 'no-store')
      try {
        await app.store.ping()
        return { status: 'ok' as const }
      } catch (err) {
        request.log.error({ err }, 'health check: store unavailable')
        return reply.code(503).send({ status: 'unavailable' as const })
      }
    },
  )
}

export default healthRoutes
