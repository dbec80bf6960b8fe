import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { exportJWK, exportPKCS8, generateKeyPair } from 'jose'
import { afterAll, describe, expect, it } from 'vitest'
import { DEFAULT_SCRYPT_PARAMS, createScryptHasher } from '../src/auth/password.ts'
import { seedUser } from '../src/auth/seed.ts'
import { createMemoryStore } from '../src/store/memory-store.ts'
import { loadSigningKeys, parseSigningKey } from '../src/tokens/keys.ts'
import { generateRefreshToken, hashRefreshToken, isWellFormedRefreshToken } from '../src/tokens/refresh-token.ts'
import { TEST_SCRYPT, countingHasher } from './helpers/build.ts'

const dir = mkdtempSync(join(tmpdir(), 'demo-keys-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('scrypt password hashing', () => {
  it('defaults to N=2^15, r=8, p=3 (an OWASP-listed equivalent of its minimum)', async () => {
    expect(DEFAULT_SCRYPT_PARAMS).toEqual({ N: 32768, r: 8, p: 3 })
    const stored = await createScryptHasher().hash('demo')
    expect(stored).toMatch(/^scrypt\$32768\$8\$3\$[\w-]{22}\$[\w-]{43}$/)
  })

  it('verifies the right password, refuses a wrong one and malformed hashes; salts differ', async () => {
    const hasher = createScryptHasher(TEST_SCRYPT)
    const a = await hasher.hash('correct horse')
    const b = await hasher.hash('correct horse')
    expect(a).not.toBe(b)
    expect(await hasher.verify('correct horse', a)).toBe(true)
    expect(await hasher.verify('correct horsf', a)).toBe(false)
    expect(await hasher.verify('', a)).toBe(false)
    for (const bad of ['', 'plain', 'scrypt$1$2$3', 'argon2$x$y$z$w$v', a.slice(0, -2)]) {
      expect(await hasher.verify('correct horse', bad)).toBe(false)
    }
  })

  it('hashes made with other parameters still verify (parameters live in the hash)', async () => {
    const old = await createScryptHasher({ N: 2048, r: 4, p: 1 }).hash('pw')
    expect(await createScryptHasher(TEST_SCRYPT).verify('pw', old)).toBe(true)
  })

  it('refuses a non power of two N', () => {
    expect(() => createScryptHasher({ N: 1000, r: 8, p: 1 })).toThrow('"scrypt.N" must be a power of two')
  })

  it('seedUser keeps a matching hash and replaces a stale one', async () => {
    const store = createMemoryStore()
    const hasher = countingHasher()
    const first = await seedUser(store, hasher, 'demo', 'one')
    const again = await seedUser(store, hasher, 'demo', 'one')
    expect(again.passwordHash).toBe(first.passwordHash)
    const changed = await seedUser(store, hasher, 'demo', 'two')
    expect(changed.id).toBe(first.id)
    expect(await hasher.verify('two', changed.passwordHash)).toBe(true)
  })
})

describe('refresh tokens', () => {
  it('are 256 random bits, base64url, and stored as SHA-256 hex', () => {
    const token = generateRefreshToken()
    expect(Buffer.from(token, 'base64url')).toHaveLength(32)
    expect(isWellFormedRefreshToken(token)).toBe(true)
    expect(isWellFormedRefreshToken(token + 'A')).toBe(false)
    expect(isWellFormedRefreshToken("' OR 1=1 --")).toBe(false)
    expect(hashRefreshToken(token)).toMatch(/^[0-9a-f]{64}$/)
    expect(new Set(Array.from({ length: 100 }, generateRefreshToken)).size).toBe(100)
  })
})

describe('signing keys', () => {
  it('are created once in the key file (mode 0600), then loaded from it', async () => {
    const file = join(dir, 'nested', 'key.json')
    const created = await loadSigningKeys({ file })
    expect(created.origin).toBe('created')
    expect(statSync(file).mode & 0o777).toBe(0o600)
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ kty: 'OKP', crv: 'Ed25519' })
    const loaded = await loadSigningKeys({ file })
    expect(loaded.origin).toBe('file')
    expect(loaded.kid).toBe(created.kid)
  })

  it('come from JWT_PRIVATE_KEY as a PKCS#8 PEM (also with escaped newlines) or a private JWK', async () => {
    const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true })
    const pem = await exportPKCS8(privateKey)
    const fromPem = await loadSigningKeys({ privateKey: pem, file: join(dir, 'ignored.json') })
    expect(fromPem.origin).toBe('env')
    const fromEscaped = await parseSigningKey(pem.replace(/\n/g, '\\n'))
    const fromJwk = await parseSigningKey(JSON.stringify(await exportJWK(privateKey)))
    expect(fromEscaped.kid).toBe(fromPem.kid)
    expect(fromJwk.kid).toBe(fromPem.kid)
    expect(fromJwk.publicJwk.d).toBeUndefined()
  })

  it('refuse anything but an Ed25519 private key', async () => {
    const ec = await generateKeyPair('ES256', { extractable: true })
    await expect(parseSigningKey(JSON.stringify(await exportJWK(ec.privateKey)))).rejects.toThrow('Ed25519')
    const ed = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true })
    await expect(parseSigningKey(JSON.stringify(await exportJWK(ed.publicKey)))).rejects.toThrow('with "d"')
    await expect(parseSigningKey('not a key')).rejects.toThrow('PKCS#8 PEM or a private JWK')
  })

  it('without a file or env key are ephemeral', async () => {
    expect((await loadSigningKeys({ file: null })).origin).toBe('ephemeral')
  })
})
