import type { FastifyInstance } from 'fastify'

/** `GET /healthz` — 200 `{ status: 'ok' }` when the store answers, else 503. */
export default async function healthRoutes(app: FastifyInstance): Promise<void> {
  app.get(
    '/healthz',
    {
      logLevel: 'warn',
      schema: {
        response: {
          200: { type: 'object', additionalProperties: false, properties: { status: { type: 'string' } } },
          503: { type: 'object', additionalProperties: false, properties: { status: { type: 'string' } } },
        },
      },
    },
    async (request, reply) => {
      reply.header('cache-control', 'no-store')
      try {
        await app.store.ping()
        return { status: 'ok' }
      } catch (err) {
        request.log.error({ err }, 'health check: store unavailable')
        return reply.code(503).send({ status: 'unavailable' })
      }
    },
  )
}
