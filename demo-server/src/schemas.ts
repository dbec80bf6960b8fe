import { Type, type Static } from '@fastify/type-provider-typebox'

/**
 * Schemas shared by several routes. Route types come from these (through the
 * TypeBox type provider), never from interfaces written beside them.
 */

/** RFC 6749 §5.1 success body; `refresh_token` is absent in cookie mode. Also keeps anything else out of the body. */
export const TokenResponse = Type.Object(
  {
    access_token: Type.String(),
    // DPoP when the access token is bound to the key of the request's DPoP proof (RFC 9449 §5).
    token_type: Type.Union([Type.Literal('Bearer'), Type.Literal('DPoP')]),
    expires_in: Type.Integer(),
    refresh_token: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
)
export type TokenResponse = Static<typeof TokenResponse>

/** Every error response: `{ error, error_description }` (RFC 6749 §5.2 shape). */
export const ErrorBody = Type.Object({ error: Type.String(), error_description: Type.String() }, { additionalProperties: false })

/** Longest refresh token accepted by the schema; well-formed ones are 43 characters (checked after). */
export const MAX_REFRESH_TOKEN_LENGTH = 512
/** `client_id` is accepted for clients that always send it (public client; not checked). */
export const ClientId = Type.String({ maxLength: 128 })
