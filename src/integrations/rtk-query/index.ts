// "silent-refresh/rtk-query": fetchBaseQuery on the token manager. The only
// entry that imports @reduxjs/toolkit (an optional peer dependency).
export { createAuthBaseQuery, isAuthQueryError } from './base-query.js'

export type { AuthBaseQuery, AuthBaseQueryOptions, AuthQueryError } from './base-query.js'
