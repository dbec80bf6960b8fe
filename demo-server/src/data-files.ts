import { chmodSync, existsSync, mkdirSync, statSync } from 'node:fs'

/**
 * Owner-only permissions for what the server keeps on disk: the SQLite
 * database and its `-wal` / `-shm` files hold password hashes and the hashes
 * of live refresh tokens, the key file holds the signing key. No other user
 * of the machine should read them.
 */
export const DATA_DIR_MODE = 0o700
export const DATA_FILE_MODE = 0o600

/**
 * Creates `dir` (and missing parents) with mode 0700. With `tighten`, an
 * existing `dir` is set to 0700 too (the default data folder of an older
 * version was 0755); never done to a folder the user chose, which may be
 * shared (`/tmp`). Returns the folder's mode afterwards.
 */
export function ensurePrivateDir(dir: string, options: { tighten: boolean }): number {
  mkdirSync(dir, { recursive: true, mode: DATA_DIR_MODE })
  if (options.tighten) chmodSync(dir, DATA_DIR_MODE)
  return statSync(dir).mode & 0o777
}

/** Sets each existing file to 0600 (best effort: a file the process does not own is left alone). */
export function restrictFiles(...paths: string[]): void {
  for (const path of paths) {
    if (!existsSync(path)) continue
    try {
      chmodSync(path, DATA_FILE_MODE)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EPERM') throw err
    }
  }
}
