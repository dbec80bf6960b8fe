// The types openapi-typescript generates from an OpenAPI document
// (`npx openapi-typescript openapi.json -o schema.ts`), written out here for
// the two routes of the demo API this example calls.
export interface paths {
  '/api/me': {
    get: {
      parameters: { query?: { i?: number } }
      responses: {
        200: { content: { 'application/json': { sub: string } } }
        401: { content: { 'application/json': { error: string } } }
      }
    }
  }
  '/api/echo': {
    post: {
      requestBody: { content: { 'application/json': { note: string } } }
      responses: {
        200: { content: { 'application/json': { method: string; body: string } } }
        401: { content: { 'application/json': { error: string } } }
      }
    }
  }
}
