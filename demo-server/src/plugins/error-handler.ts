import fp from 'fastify-plugin'
import type { FastifyError, FastifyInstance } from 'fastify'
import { HttpError, errorBody } from '../errors.ts'
import { StoreUnavailableError } from '../store/types.ts'

/** `Retry-After` of a 503 when the store is unavailable. */
export const STORE_UNAVAILABLE_RETRY_AFTER_SECONDS = 2

/**
 * Turns every failure into `{ error, error_description }` with a stable code.
 *
 * Descriptions come from our own code or from schema validation (which names
 * fields, never echoes values); a JSON parser's message is never passed on,
 * because V8 quotes the offending input — which can be a password.
 */
async function errorHandler(app: FastifyInstance): Promise<void> {
  app.setErrorHandler((err: FastifyError | HttpError, request, reply) => {
    if (err instanceof HttpError) {
      request.log.info({ code: err.code, statusCode: err.statusCode }, err.description)
      return reply.code(err.statusCode).headers(err.headers).send(errorBody(err.code, err.description))
    }
    if (err instanceof StoreUnavailableError) {
      // The database is unreachable or the connection broke: a clear 503, never a guess about a token.
      request.log.error({ err, ambiguous: err.ambiguous }, 'store unavailable')
      return reply
        .code(503)
        .header('retry-after', String(STORE_UNAVAILABLE_RETRY_AFTER_SECONDS))
        .send(errorBody('temporarily_unavailable', 'The service is temporarily unavailable; retry shortly.'))
    }
    const status = err.statusCode ?? 500
    if (err.validation) {
      request.log.info({ code: 'invalid_request', statusCode: 400 }, 'schema validation failed')
      return reply.code(400).send(errorBody('invalid_request', err.message))
    }
    if (status >= 500) {
      request.log.error({ err }, 'request failed')
      return reply.code(500).send(errorBody('server_error', 'Something went wrong on our side.'))
    }
    request.log.info({ code: err.code, statusCode: status }, 'request rejected')
    switch (status) {
      case 413:
        return reply.code(413).send(errorBody('payload_too_large', 'The request body is too large.'))
      case 415:
        return reply
          .code(415)
          .send(errorBody('unsupported_media_type', 'Send application/json (or application/x-www-form-urlencoded where documented).'))
      case 429:
        return reply.code(429).send(errorBody('rate_limited', 'Too many requests; see Retry-After.'))
    }
    let description = 'The request is malformed.'
    if (err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') description = 'The body is empty but Content-Type says JSON.'
    else if (err.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err instanceof SyntaxError) description = 'The body is not valid JSON.'
    else if (/prototype/i.test(err.message)) description = 'The body contains a forbidden key (__proto__ or constructor.prototype).'
    return reply.code(status >= 400 && status < 500 ? status : 400).send(errorBody('invalid_request', description))
  })

  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send(errorBody('not_found', `No route ${request.method} ${request.url.split('?')[0]}.`))
  })
}

export default fp(errorHandler, { name: 'error-handler' })
