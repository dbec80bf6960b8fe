// The React Native files in ./react-native/ are verbatim copies from the npm
// package (see its README): a test that changes them tests an imitation.
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'

const published = {
  '0.73.11/URL.js.flow': '29eac7efd6364c5f0b5d0a6c184b78892e4941f1d9a422058d7a77d3b3247d0f',
  '0.73.11/queueMicrotask.js.flow': '7249bac71f8adbb1fbea2b74fa8f1bc15ee90ce87f1c0ca9c0abd444eb1d9886',
  '0.88.1/URL.js.flow': '0e7156cca9f6696ce300a7281468dd35e585cfb8edc3d211ee933bb54d50cf6d',
  '0.88.1/URLSearchParams.js.flow': 'a1da88446b4eaf732eef6aa7ffd71f61717e07b5200ac2060a94f0df1c616fc7',
}

describe('test/runtime/react-native/', () => {
  it.each(Object.entries(published))('%s is byte for byte the file react-native published', (file, sha256) => {
    const text = readFileSync(new URL(`./react-native/${file}`, import.meta.url))
    expect(createHash('sha256').update(text).digest('hex')).toBe(sha256)
  })
})
