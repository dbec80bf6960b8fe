// "silent-refresh/react" rendered on the server: Node, no DOM (the sdk project's
// node environment). The server snapshot is 'loading', and nothing is read.
import { createElement as h } from 'react'
import { renderToString } from 'react-dom/server'
import { describe, expect, test, vi } from 'vitest'
import { createTokenManager } from '../../src/index.js'
import { SessionProvider, useSession } from '../../src/integrations/react/index.js'

function Status() {
  return h('p', null, useSession().status)
}

describe('renderToString in Node', () => {
  test("renders 'loading' and reads no storage, with a manager that holds a session", () => {
    expect(typeof (globalThis as { window?: unknown }).window).toBe('undefined')
    const storage = { get: vi.fn(() => ({ accessToken: 'opaque-token' })), set: vi.fn(), clear: vi.fn() }
    const manager = createTokenManager({ refresh: async () => ({ accessToken: 'next' }), storage })
    const getState = vi.spyOn(manager, 'getState')
    expect(renderToString(h(SessionProvider, { manager }, h(Status)))).toBe('<p>loading</p>')
    expect(storage.get).not.toHaveBeenCalled()
    expect(getState).not.toHaveBeenCalled()
    manager.dispose()
  })
})
