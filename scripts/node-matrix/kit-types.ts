// Type-checked by scripts/node-matrix.sh inside a project that installed the packed
// tarball beside msw 3: the kit's declarations must agree with msw 3's types
// (handlers go to setupServer, protect() wraps an msw resolver).
import { http, HttpResponse } from 'msw'
import { setupServer } from 'msw/node'
import { createTokenServer, mintTestJwt, type TokenServer } from 'silent-refresh/testing'

const tokens: TokenServer = createTokenServer({ baseUrl: 'https://api.test' })
export const server = setupServer(
  http.get('https://api.test/api/orders', tokens.protect(({ claims }) => HttpResponse.json({ owner: claims.sub }))),
  ...tokens.handlers,
)
export const jwt: string = mintTestJwt({ sub: 'alice' })
