import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { HttpError } from '../errors.ts'
import { deriveSecret } from '../tokens/keys.ts'
import { createDpopVerifier, DpopProofError, type DpopMode, type DpopVerifier, type VerifiedProof } from '../tokens/dpop.ts'

/** The `DPoP-Nonce` response header (RFC 9449 §8.1). */
export const DPOP_NONCE_HEADER = 'dpop-nonce'

export interface DpopService {
  readonly mode: DpopMode
  readonly verifier: DpopVerifier
  /**
   * At the token endpoints (login, refresh): the thumbprint of the key of the
   * request's valid DPoP proof (its `jti` now recorded), or null when there is
   * no proof and none is required (or DPoP is off). Throws the RFC 9449 §5 400
   * (`invalid_dpop_proof`, `use_dpop_nonce` with `DPoP-Nonce`).
   */
  atTokenEndpoint(request: FastifyRequest, reply: FastifyReply): Promise<string | null>
  /**
   * At a protected resource: the request's one DPoP proof, checked for
   * `accessToken` (`ath`). Throws a {@link DpopProofError} (the caller shapes
   * the 401 challenge); the `jti` is not recorded yet: see {@link DpopService.record}.
   */
  atResource(request: FastifyRequest, reply: FastifyReply, accessToken: string): Promise<VerifiedProof>
  /** Records the proof's `jti` in the store's replay cache; throws a {@link DpopProofError} for a replay. */
  record(proof: VerifiedProof): Promise<void>
}

declare module 'fastify' {
  interface FastifyInstance {
    /** DPoP proof checks (tokens/dpop.ts) with the replay cache in the store. */
    dpop: DpopService
  }
}

/** How many `DPoP` header fields the request has (RFC 9449 §4.3: exactly one). */
function countDpopHeaders(rawHeaders: string[]): number {
  let count = 0
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.length === 4 && rawHeaders[i]!.toLowerCase() === 'dpop') count++
  }
  return count
}

async function dpopPlugin(app: FastifyInstance): Promise<void> {
  const { dpop: mode, dpopNonce, dpopNonceRotationMs, publicOrigins } = app.settings
  const verifier = createDpopVerifier({
    // Every instance sharing the signing key issues and accepts the same nonces.
    nonceSecret: deriveSecret(app.settings.keys, 'dpop-nonce v1'),
    now: app.now,
    nonces: dpopNonce,
    nonceRotationMs: dpopNonceRotationMs,
  })

  /** Where the client reached us: configured, or the request's own scheme and host (proxy headers only with trustProxy). */
  const originsOf = (request: FastifyRequest): readonly string[] =>
    publicOrigins.length > 0 ? publicOrigins : [`${request.protocol}://${request.host}`]

  const nonceHeaders = (): Record<string, string> => (dpopNonce ? { [DPOP_NONCE_HEADER]: verifier.nonce() } : {})

  /** The one proof of the request, or undefined; the nonce goes out with every answer to a request that brought one. */
  function proofOf(request: FastifyRequest, reply: FastifyReply): string | undefined {
    const count = countDpopHeaders(request.raw.rawHeaders)
    if (count === 0) return undefined
    if (dpopNonce) reply.header(DPOP_NONCE_HEADER, verifier.nonce())
    if (count > 1) throw new DpopProofError('invalid_dpop_proof', 'more than one DPoP header', 'Send exactly one DPoP header.')
    return request.headers.dpop as string
  }

  async function record(proof: VerifiedProof): Promise<void> {
    if (!(await app.store.recordDpopProof(proof.replayKey, proof.replayExpiresAt, app.now()))) {
      throw new DpopProofError('invalid_dpop_proof', 'jti already used (replay)', 'The DPoP proof was already used; make a new one for every request.')
    }
  }

  const service: DpopService = {
    mode,
    verifier,

    async atTokenEndpoint(request, reply) {
      if (mode === 'off') return null
      try {
        const proof = proofOf(request, reply)
        if (proof === undefined) {
          if (mode === 'required') throw new DpopProofError('invalid_dpop_proof', 'no DPoP header (DPOP=required)', 'A DPoP proof is required: send a DPoP header.')
          return null
        }
        const verified = await verifier.verify(proof, { method: request.method, origins: originsOf(request), path: request.url })
        await record(verified)
        return verified.jkt
      } catch (err) {
        if (!(err instanceof DpopProofError)) throw err
        request.log.info({ reason: err.code, detail: err.detail }, 'DPoP proof rejected at the token endpoint')
        throw new HttpError(400, err.code, err.message, nonceHeaders())
      }
    },

    async atResource(request, reply, accessToken) {
      const proof = proofOf(request, reply)
      if (proof === undefined) {
        throw new DpopProofError('invalid_dpop_proof', 'no DPoP header with the DPoP scheme', 'Authorization: DPoP needs a DPoP proof in the DPoP header.')
      }
      return verifier.verify(proof, { method: request.method, origins: originsOf(request), path: request.url, accessToken })
    },

    record,
  }
  app.decorate('dpop', service)
}

export default fp(dpopPlugin, { name: 'dpop', dependencies: ['services'] })
