// A user's app code, as small as possible: sign in, load a dashboard of
// widgets with 20 parallel requests, fall back to the login screen when the
// session is over. dashboard.test.ts tests it with "silent-refresh/testing".
import { SessionExpiredError, createTokenManager, refreshTokenGrant } from 'silent-refresh'
import { createAuthFetch } from 'silent-refresh/fetch'

export interface Widget {
  id: string
  name: string
}

export function createApp(apiUrl: string) {
  const manager = createTokenManager({ refresh: refreshTokenGrant({ url: `${apiUrl}/auth/token` }) })
  const authFetch = createAuthFetch(manager, { allowedOrigins: [apiUrl] })

  const app = {
    screen: 'login' as 'login' | 'dashboard',
    widgets: [] as Widget[],
    manager,

    async signIn(username: string, password: string) {
      const res = await fetch(`${apiUrl}/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username, password }),
      })
      if (!res.ok) throw new Error(`Login failed: ${res.status}`)
      const data = (await res.json()) as { access_token: string; refresh_token: string; expires_in: number }
      await manager.setTokens({ accessToken: data.access_token, refreshToken: data.refresh_token, expiresIn: data.expires_in })
      app.screen = 'dashboard'
    },

    async loadDashboard(count = 20) {
      try {
        const ids = Array.from({ length: count }, (_, i) => String(i + 1))
        app.widgets = await Promise.all(
          ids.map(async (id) => {
            const res = await authFetch(`${apiUrl}/api/widgets/${id}`)
            if (!res.ok) throw new Error(`GET /api/widgets/${id}: ${res.status}`)
            return (await res.json()) as Widget
          }),
        )
      } catch (error) {
        if (!(error instanceof SessionExpiredError)) throw error
        // The 'signedOut' listener below has switched to the login screen already.
      }
    },
  }

  manager.on('signedOut', () => {
    app.screen = 'login'
    app.widgets = []
  })
  return app
}
