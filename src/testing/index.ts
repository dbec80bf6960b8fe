// "silent-refresh/testing": msw handlers of a token server, and test JWTs.
// The only entry that imports msw (an optional peer dependency).
export { createTokenServer } from './token-server.js'
export { mintTestJwt, verifyTestJwt } from './jwt.js'

export type {
  TokenServer,
  TokenServerOptions,
  TokenServerStats,
  RefreshFailure,
  TestAccessClaims,
  IssuedTokens,
  ProtectedResolver,
} from './token-server.js'
export type { TestJwtClaims, MintTestJwtOptions } from './jwt.js'
