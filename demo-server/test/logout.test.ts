import { beforeEach, describe, expect, it } from 'vitest'
import { build, type TestContext } from './helpers/build.ts'

let ctx: TestContext
beforeEach(async () => {
  ctx = await build()
})

describe('POST /auth/logout', () => {
  it('revokes the family: refresh and access tokens stop working; 204 with no body', async () => {
    const { access_token: access, refresh_token: refresh } = (await ctx.login()).json()
    const res = await ctx.logout(refresh)
    expect(res.statusCode).toBe(204)
    expect(res.body).toBe('')
    expect(res.headers['cache-control']).toBe('no-store')
    const after = await ctx.refresh(refresh)
    expect(after.statusCode).toBe(400)
    expect(after.json().error).toBe('invalid_grant')
    expect((await ctx.me(access)).statusCode).toBe(401)
  })

  it('is idempotent: twice, unknown token, malformed token, no body at all → 204', async () => {
    const { refresh_token: refresh } = (await ctx.login()).json()
    expect((await ctx.logout(refresh)).statusCode).toBe(204)
    expect((await ctx.logout(refresh)).statusCode).toBe(204)
    expect((await ctx.logout('B'.repeat(43))).statusCode).toBe(204)
    expect((await ctx.logout('not-a-token')).statusCode).toBe(204)
    expect((await ctx.logout()).statusCode).toBe(204)
    expect((await ctx.app.inject({ method: 'POST', url: '/auth/logout' })).statusCode).toBe(204)
  })

  it('accepts a form body and an already rotated token (revokes the family it belongs to)', async () => {
    const first = (await ctx.login()).json()
    const second = (await ctx.refresh(first.refresh_token)).json()
    const res = await ctx.app.inject({
      method: 'POST',
      url: '/auth/logout',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: `refresh_token=${first.refresh_token}`,
    })
    expect(res.statusCode).toBe(204)
    expect((await ctx.refresh(second.refresh_token)).statusCode).toBe(400)
  })

  it('only ends its own session', async () => {
    const a = (await ctx.login()).json()
    const b = (await ctx.login()).json()
    await ctx.logout(a.refresh_token)
    expect((await ctx.me(b.access_token)).statusCode).toBe(200)
    expect((await ctx.refresh(b.refresh_token)).statusCode).toBe(200)
  })

  it('rejects a body with unknown fields', async () => {
    const res = await ctx.app.inject({ method: 'POST', url: '/auth/logout', payload: { refresh_token: 'x', everything: true } })
    expect(res.statusCode).toBe(400)
    expect(res.json().error).toBe('invalid_request')
  })
})
