import { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import fp from 'fastify-plugin'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { HttpError, errorBody, type ErrorCode } from '../errors.ts'
import { StoreUnavailableError } from '../store/types.ts'
import { API_SECURITY_HEADERS } from './security.ts'

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

/**
 * Fastify's `frameworkErrors`: the router's own refusals (a URL that does not
 * decode, a path parameter over `maxParamLength`) in our error shape instead of
 * Fastify's `{ error, code, message, statusCode }`.
 */
export function frameworkErrorHandler(err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const tooLong = err.code === 'FST_ERR_MAX_PARAM_LENGTH'
  request.log.info({ code: err.code }, 'request rejected by the router')
  // No route matched, so no onRequest hook ran: the security headers are set here.
  reply
    .code(tooLong ? 414 : 400)
    .headers(API_SECURITY_HEADERS)
    .header('cache-control', 'no-store')
    .send(errorBody('invalid_request', tooLong ? 'The URL is too long.' : 'The URL is malformed.'))
}

/**
 * Node's `clientError`: a request that is not valid HTTP, headers over the
 * size limit, or a request that did not arrive within the header/request
 * timeouts. No route runs, so the answer is written to the socket here, in
 * the same `{ error, error_description }` shape, and the socket is closed.
 */
export function clientErrorHandler(this: FastifyInstance, err: NodeJS.ErrnoException, socket: Socket): void {
  // The peer already went away: nothing to answer.
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  let status = 400
  let code: ErrorCode = 'invalid_request'
  let description = 'The request is not valid HTTP.'
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    status = 408
    code = 'request_timeout'
    description = 'The request did not arrive in time.'
  } else if (err.code === 'HPE_HEADER_OVERFLOW') {
    status = 431
    description = 'The request headers are too large.'
  }
  this.log.info({ code: err.code, status }, 'client error')
  if (socket.writable) {
    const body = JSON.stringify(errorBody(code, description))
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n${body}`,
    )
  }
  socket.destroy()
}
