// The demo page as a person uses it: sign in through the form, expire the
// token on the server, fire a burst of 50, and read the timeline: one refresh.
// Leaves a screenshot in test-results/demo.png.
import { mkdirSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser } from 'playwright-core'
import { bound } from '../helpers/bounds.js'
import { chromiumPath, launchBrowser, startDemoServer, type DemoServer } from './harness.js'

/** For waits on the page: they end at the event; the bound only catches a hang (the page polls the server each second). */
const patient = { timeout: bound(20_000) }

describe.skipIf(!chromiumPath)('the demo page in Chromium', () => {
  let server: DemoServer
  let browser: Browser

  beforeAll(async () => {
    ;[server, browser] = await Promise.all([startDemoServer({ accessTokenTtl: 30 }), launchBrowser()])
  })
  afterAll(async () => {
    await browser?.close()
    await server?.close()
  })

  it('sign in, expire, burst of 50: the timeline shows 50 requests, 50 401s, one refresh, 50 retries, 50 successes', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } })
    const page = await context.newPage()
    const errors: string[] = []
    page.on('pageerror', (error) => errors.push(error.message))
    await page.goto(server.url)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.locator('#session-card').waitFor({ state: 'visible' })
    await expect.poll(() => page.locator('#life-text').textContent(), patient).toMatch(/s left$/)

    // A second tab: it shares the session and will take the new tokens without refreshing.
    const second = await context.newPage()
    await second.goto(server.url)
    await second.locator('#session-card').waitFor({ state: 'visible' })

    await page.getByRole('button', { name: 'Expire token on server' }).click()
    await page.locator('#timeline li[data-kind="session"]', { hasText: 'expired' }).waitFor()
    await page.locator('#burst-size').fill('50')
    await page.getByRole('button', { name: 'Fire burst' }).click()
    await expect.poll(() => page.locator('#stat-ok').textContent(), patient).toBe('50')

    const row = (kind: string) => page.locator(`#timeline li[data-kind="${kind}"]`)
    await expect(row('refresh').allTextContents()).resolves.toHaveLength(2) // "refresh" and "refreshed": one refresh
    expect(await page.locator('#stat-refreshes').textContent()).toBe('1')
    expect(await page.locator('#stat-401').textContent()).toBe('50')
    expect(await page.locator('#stat-retries').textContent()).toBe('50')
    expect(await row('ok').last().textContent()).toContain('×50')
    expect(server.stats.rotated).toBe(1)
    expect(server.stats.reused).toBe(0)
    await expect.poll(() => page.locator('#stat-server').textContent(), patient).toBe('1')
    await expect.poll(() => second.locator('#stat-adopted').textContent(), patient).toBe('1')
    expect(await second.locator('#stat-refreshes').textContent()).toBe('0')

    mkdirSync('test-results', { recursive: true })
    await page.screenshot({ path: 'test-results/demo.png', fullPage: true })
    expect(errors).toEqual([])
    await context.close()
  })

  it('with DPoP on: bound tokens, a proof on every request, the nonce answered, one refresh for a burst after expiry', async () => {
    const context = await browser.newContext()
    const page = await context.newPage()
    const errors: string[] = []
    page.on('pageerror', (error) => errors.push(error.message))
    await page.goto(server.url)
    const rotatedBefore = server.stats.rotated
    // The checkbox reloads the page with the choice stored.
    await Promise.all([page.waitForEvent('load'), page.locator('#dpop').check()])
    expect(await page.locator('#dpop').isChecked()).toBe(true)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.locator('#session-card').waitFor({ state: 'visible' })

    // The server bound the session to the page's key: the token alone, as Bearer, is refused.
    const token = await page.evaluate(() => (window as unknown as { demo: { accessToken: string } }).demo.accessToken)
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { cnf?: { jkt?: string } }
    expect(claims.cnf?.jkt).toMatch(/^[\w-]{43}$/)
    const stolen = await fetch(`${server.url}/api/me`, { headers: { authorization: `Bearer ${token}` } })
    expect(stolen.status).toBe(401)

    await page.getByRole('button', { name: 'Expire token on server' }).click()
    await page.locator('#timeline li[data-kind="session"]', { hasText: 'expired' }).waitFor()
    await page.locator('#burst-size').fill('20')
    await page.getByRole('button', { name: 'Fire burst' }).click()
    await expect.poll(() => page.locator('#stat-ok').textContent(), patient).toBe('20')
    expect(await page.locator('#stat-refreshes').textContent()).toBe('1')
    expect(server.stats.rotated - rotatedBefore).toBe(1)
    expect(server.stats.reused).toBe(0)
    // Every request showed its proof: ES256, bound to the token (ath), with the server's nonce.
    const proofs = await page.locator('#timeline li', { hasText: 'ES256 key' }).allTextContents()
    expect(proofs.length).toBeGreaterThan(0)
    expect(proofs.join('\n')).toMatch(/GET http:\/\/127\.0\.0\.1:\d+\/api\/me.*ath .*nonce /)
    // The poll of /demo/stats goes with a proof too (a bound token as Bearer is refused).
    await expect.poll(() => page.locator('#stat-server').textContent(), patient).toBe('1')
    expect(errors).toEqual([])
    await context.close()
  })
})
