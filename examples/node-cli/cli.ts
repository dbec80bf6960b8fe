// A Node CLI calling an API with fetch. The session lives in a file readable
// only by the user (like gh or the AWS CLI do), so the next run is signed in.
//   node --experimental-strip-types examples/node-cli/cli.ts login alice
//   node --experimental-strip-types examples/node-cli/cli.ts me
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { dirname, join } from 'node:path'
import { SessionExpiredError, createTokenManager, refreshTokenGrant, type TokenSet, type TokenStorage } from 'silent-refresh'
import { createAuthFetch } from 'silent-refresh/fetch'

const API = process.env.API_URL ?? 'http://localhost:3000'
const FILE = join(homedir(), '.config', 'example-cli', 'session.json')

/** A TokenStorage is three functions; async is fine. */
const fileStorage: TokenStorage = {
  async get() {
    try {
      return JSON.parse(await readFile(FILE, 'utf8')) as TokenSet
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null
      throw error // reported through the 'error' event; the CLI starts signed out
    }
  },
  async set(tokens) {
    await mkdir(dirname(FILE), { recursive: true, mode: 0o700 })
    await writeFile(FILE, JSON.stringify(tokens), { mode: 0o600 })
  },
  async clear() {
    await rm(FILE, { force: true })
  },
}

const manager = createTokenManager({ refresh: refreshTokenGrant({ url: `${API}/auth/token` }), storage: fileStorage })
// In Node there is no page origin: name the API's origin, or no token is ever sent.
const authFetch = createAuthFetch(manager, { allowedOrigins: [API] })

async function login(username: string, password: string): Promise<void> {
  const res = await fetch(`${API}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  })
  if (!res.ok) throw new Error(`Login failed: ${res.status}`)
  const data = (await res.json()) as { access_token: string; refresh_token: string; expires_in: number }
  await manager.setTokens({ accessToken: data.access_token, refreshToken: data.refresh_token, expiresIn: data.expires_in })
}

export async function main(argv: string[]): Promise<number> {
  const [command, username = 'demo', password = process.env.PASSWORD ?? ''] = argv
  try {
    if (command === 'login') {
      await login(username, password)
      console.log('Signed in.')
    } else if (command === 'logout') {
      await manager.clear()
      console.log('Signed out.')
    } else if (command === 'me') {
      if (!(await manager.getAccessToken())) {
        console.error('Not signed in: run `login` first.')
        return 1
      }
      const res = await authFetch(`${API}/api/me`)
      console.log(res.status, await res.text())
    } else {
      console.error('usage: cli.ts login <user> | me | logout')
      return 2
    }
    return 0
  } catch (error) {
    if (error instanceof SessionExpiredError) {
      console.error('Your session has expired: run `login` again.')
      return 1
    }
    throw error
  } finally {
    manager.dispose() // timers are unref'd anyway; dispose makes the exit immediate and tidy
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await main(process.argv.slice(2))
}
