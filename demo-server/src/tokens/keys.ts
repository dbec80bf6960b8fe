import { generateKeyPairSync, hkdfSync, KeyObject } from 'node:crypto'
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs'
import { DATA_DIR_MODE, DATA_FILE_MODE, restrictFiles } from '../data-files.ts'
import { dirname } from 'node:path'
import { calculateJwkThumbprint, exportJWK, importJWK, importPKCS8, type JWK } from 'jose'

/** The Ed25519 key pair that signs access tokens. */
export interface SigningKeys {
  /** RFC 7638 thumbprint of the public key; the `kid` of every token and of the JWKS entry. */
  kid: string
  privateKey: CryptoKey
  publicKey: CryptoKey
  /** The same keys as node:crypto KeyObjects: signing and verifying synchronously is about twice as fast as WebCrypto. */
  signingKey: KeyObject
  verifyingKey: KeyObject
  /** Public JWK as published at `/.well-known/jwks.json`. */
  publicJwk: JWK
}

/**
 * A 256-bit secret for one purpose, derived from the signing key with HKDF-SHA256
 * (RFC 5869): every instance that shares the signing key shares it, and no two
 * purposes share a key. Used for HMACs (refresh-token children, device cookies),
 * never for signing tokens.
 */
export function deriveSecret(keys: SigningKeys, purpose: string): Buffer {
  const material = keys.signingKey.export({ format: 'der', type: 'pkcs8' })
  return Buffer.from(hkdfSync('sha256', material, 'silent-refresh demo-server', purpose, 32))
}

async function fromPrivateKey(privateKey: CryptoKey): Promise<SigningKeys> {
  const privateJwk = await exportJWK(privateKey)
  if (privateJwk.kty !== 'OKP' || privateJwk.crv !== 'Ed25519' || !privateJwk.x) {
    throw new TypeError('the signing key must be an Ed25519 private key')
  }
  const bare: JWK = { kty: 'OKP', crv: 'Ed25519', x: privateJwk.x }
  const kid = await calculateJwkThumbprint(bare)
  const publicKey = (await importJWK(bare, 'EdDSA')) as CryptoKey
  return {
    kid,
    privateKey,
    publicKey,
    signingKey: KeyObject.from(privateKey),
    verifyingKey: KeyObject.from(publicKey),
    publicJwk: { ...bare, kid, alg: 'EdDSA', use: 'sig' },
  }
}

/** A fresh Ed25519 key pair (extractable, so it can be saved). */
export async function generateSigningKeys(): Promise<SigningKeys> {
  // Generated as PKCS#8 DER and imported again before any JWK export: on Node 20, exporting a
  // just-generated key as a JWK can deadlock when garbage collection runs at that moment.
  const der = generateKeyPairSync('ed25519').privateKey.export({ format: 'der', type: 'pkcs8' })
  const pem = `-----BEGIN PRIVATE KEY-----\n${der.toString('base64')}\n-----END PRIVATE KEY-----`
  return fromPrivateKey(await importPKCS8(pem, 'EdDSA', { extractable: true }))
}

/**
 * Parses a private key given as a PKCS#8 PEM or as a private JWK (JSON).
 *
 * @example
 * await parseSigningKey(process.env.JWT_PRIVATE_KEY!)
 */
export async function parseSigningKey(text: string): Promise<SigningKeys> {
  const trimmed = text.trim()
  if (trimmed.startsWith('-----BEGIN')) {
    return fromPrivateKey(await importPKCS8(trimmed.replace(/\\n/g, '\n'), 'EdDSA', { extractable: true }))
  }
  let jwk: JWK
  try {
    jwk = JSON.parse(trimmed) as JWK
  } catch {
    throw new TypeError('the signing key must be a PKCS#8 PEM or a private JWK in JSON')
  }
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.d !== 'string') {
    throw new TypeError('the signing key must be an Ed25519 private JWK (kty OKP, crv Ed25519, with "d")')
  }
  const key = await importJWK({ kty: 'OKP', crv: 'Ed25519', x: jwk.x, d: jwk.d }, 'EdDSA', { extractable: true })
  return fromPrivateKey(key as CryptoKey)
}

/**
 * Where the signing key comes from, first that applies: `privateKey` (env
 * `JWT_PRIVATE_KEY`); the JSON file at `file`, created with a new key (mode
 * 0600) on first start; else a key that lives as long as the process.
 */
export async function loadSigningKeys(source: { privateKey?: string | undefined; file?: string | null | undefined }): Promise<
  SigningKeys & { origin: 'env' | 'file' | 'created' | 'ephemeral' }
> {
  if (source.privateKey) return { ...(await parseSigningKey(source.privateKey)), origin: 'env' }
  if (!source.file) return { ...(await generateSigningKeys()), origin: 'ephemeral' }
  if (existsSync(source.file)) {
    restrictFiles(source.file)
    return { ...(await parseSigningKey(readFileSync(source.file, 'utf8'))), origin: 'file' }
  }
  const keys = await generateSigningKeys()
  mkdirSync(dirname(source.file), { recursive: true, mode: DATA_DIR_MODE })
  const jwk = await exportJWK(keys.privateKey)
  // 'wx' fails if another process created the file meanwhile; then use theirs.
  try {
    writeFileSync(source.file, JSON.stringify(jwk) + '\n', { mode: DATA_FILE_MODE, flag: 'wx' })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      return { ...(await parseSigningKey(readFileSync(source.file, 'utf8'))), origin: 'file' }
    }
    throw err
  }
  return { ...keys, origin: 'created' }
}
