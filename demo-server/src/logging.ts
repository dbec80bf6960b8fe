import type { FastifyServerOptions } from 'fastify'
import type { IncomingHttpHeaders } from 'node:http'
import type { AppOptions } from './options.ts'

/** What replaces a secret in a log line. */
export const REDACTED = '[redacted]'

/** Body fields pino replaces wherever a log call passes them (bodies themselves are never logged). */
export const REDACT_PATHS = ['*.password', '*.refresh_token', '*.access_token', 'body.password', 'body.refresh_token']

/**
 * Request headers whose values are logged as sent. Every other header is
 * logged by name with its value redacted: `Authorization`, `Proxy-Authorization`,
 * `Cookie`, `Set-Cookie`, `DPoP`, `X-Api-Key` and whatever credential a client
 * invents next. An allowlist, because a denylist misses the header nobody
 * thought of.
 */
export const LOGGED_HEADERS: ReadonlySet<string> = new Set([
  'host',
  'user-agent',
  'accept',
  'accept-encoding',
  'accept-language',
  'content-type',
  'content-length',
  'connection',
  'cache-control',
  'pragma',
  'origin',
  'sec-fetch-site',
  'sec-fetch-mode',
  'sec-fetch-dest',
  'x-requested-with',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'access-control-request-method',
  'access-control-request-headers',
])

/** Query parameters whose values are logged as sent; any other value (`?access_token=…`, `?code=…`) is redacted. */
export const LOGGED_QUERY_PARAMETERS: ReadonlySet<string> = new Set(['delay_ms'])

/**
 * The request URL as logged: the path, and the query with every value not in
 * {@link LOGGED_QUERY_PARAMETERS} replaced by `[redacted]`.
 *
 * @example
 * safeUrl('/api/me?access_token=eyJ…&delay_ms=5') // '/api/me?access_token=[redacted]&delay_ms=5'
 */
export function safeUrl(url: string): string {
  const q = url.indexOf('?')
  if (q === -1) return url
  const parts = url
    .slice(q + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=')
      const name = eq === -1 ? pair : pair.slice(0, eq)
      if (eq === -1 || LOGGED_QUERY_PARAMETERS.has(name)) return pair
      return `${name}=${REDACTED}`
    })
  return `${url.slice(0, q)}?${parts.join('&')}`
}

/** Headers as logged: allowlisted values as sent, every other value redacted, a Referer without its query. */
export function safeHeaders(headers: IncomingHttpHeaders): Record<string, string | string[] | undefined> {
  const out: Record<string, string | string[] | undefined> = {}
  for (const [name, value] of Object.entries(headers)) {
    if (LOGGED_HEADERS.has(name)) out[name] = value
    else if (name === 'referer' && typeof value === 'string') out[name] = value.split(/[?#]/)[0]
    else out[name] = REDACTED
  }
  return out
}

/** Fastify logger options: pino at the given level, with the serializers above. */
export function loggerOptions(logger: AppOptions['logger']): FastifyServerOptions['logger'] {
  if (!logger) return false
  return {
    level: logger.level ?? 'info',
    ...(logger.stream ? { stream: logger.stream } : {}),
    redact: { paths: REDACT_PATHS, censor: REDACTED },
    serializers: {
      // Headers help when debugging CORS and CSRF; secrets in them and in the query never reach the log.
      req: (req) => ({ method: req.method, url: safeUrl(req.url), remoteAddress: req.ip, headers: safeHeaders(req.headers) }),
      res: (reply) => ({ statusCode: reply.statusCode }),
    },
  }
}
