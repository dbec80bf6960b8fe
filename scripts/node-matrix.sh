#!/usr/bin/env bash
# npm run test:node-matrix [-- 18 22 …]: the built package on every Node version
# "engines" claims, as real binaries (scripts/node-versions.sh, cached in .cache/node/).
# Build first (npm run build). For each version:
#
#   1. the conformance suite (../shared/conformance/run): node:test files against the
#      package resolved by name, run by that version's node (first on PATH);
#   2. the adapter, grant and testing-kit tests (test/adapters, test/grants, test/testing)
#      with the public entries mapped to dist/ (scripts/node-matrix/vitest.config.mjs);
#   3. on Node >= 22.12 (msw 3's floor): the testing-kit tests again on msw 3, and the
#      packed tarball installed beside msw 3 with npm (no ERESOLVE), both builds loaded;
#      once, its .d.ts type-checked against msw 3's types.
#
# Node 18: vitest 4 needs Node >= 20 (it does not start on 18). The same test files run
# there under vitest 3.2, the last line that supports Node 18, installed for that run only
# from scripts/node-matrix/node18/package-lock.json; the tests' `import 'vitest'` is sent
# to it. So every version runs the same tests against the same dist/, not a subset
# rewritten for 18. vitest 3 and 4 differ in ways these tests do not use. One fixture
# gap: 18 has no global File, so node18/setup.ts takes it from node:buffer.
#
# Before the runs it prints what each version's fetch and web globals do
# (scripts/probe-runtime.mjs): the facts the adapters must work around.
set -euo pipefail
cd "$(dirname "$0")/.."
here=scripts/node-matrix

step() { printf '\n== %s\n' "$*"; }

if [ ! -f dist/index.js ] || [ ! -f dist/testing.js ]; then
  echo "node-matrix: no dist/ — run npm run build first" >&2
  exit 2
fi

# Installs a helper folder's pinned packages (its package-lock.json) unless already there.
install() {
  local dir=$1
  if [ ! -f "$dir/node_modules/.package-lock.json" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    (cd "$dir" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
  fi
}

majors=("$@")
if [ ${#majors[@]} -eq 0 ]; then majors=(18 20 22 24); fi
declare -A node
for major in "${majors[@]}"; do node[$major]=$(scripts/node-versions.sh "$major"); done

step "what each version does (scripts/probe-runtime.mjs)"
probe_nodes=()
for major in "${majors[@]}"; do probe_nodes+=("${node[$major]}"); done
node scripts/probe-runtime.mjs --table "${probe_nodes[@]}"

needs_msw3=false
for major in "${majors[@]}"; do
  if [ "$major" -ge 22 ]; then needs_msw3=true; fi
  if [ "$major" -eq 18 ]; then install "$here/node18"; fi
done
if $needs_msw3; then install "$here/msw3"; fi
msw3="$PWD/$here/msw3/node_modules/msw"

# A project on msw 3 installs the packed tarball: npm resolves the peer range (no ERESOLVE).
packed=""
if $needs_msw3; then
  step "npm install of the packed package into a project on msw 3"
  packed=$(mktemp -d)
  trap 'rm -rf "$packed"' EXIT
  npm pack --silent --pack-destination "$packed" >/dev/null
  cat >"$packed/package.json" <<EOF
{ "name": "app-on-msw3", "private": true, "type": "module",
  "dependencies": { "msw": "$(node -p "require('./$here/msw3/package.json').dependencies.msw")", "silent-refresh": "file:./$(cd "$packed" && ls silent-refresh-*.tgz)" } }
EOF
  (cd "$packed" && npm install --no-audit --no-fund --ignore-scripts --prefer-offline --loglevel=error)
  cp "$here/kit-smoke.mjs" "$here/kit-smoke.cjs" "$here/kit-types.ts" "$packed/"
  step "the kit's types against msw 3's (tsc, node16 resolution, no skipLibCheck)"
  cat >"$packed/tsconfig.json" <<EOF
{ "compilerOptions": { "strict": true, "noEmit": true, "module": "node16", "moduleResolution": "node16", "target": "es2022", "lib": ["es2022", "dom"], "types": [], "skipLibCheck": false }, "files": ["kit-types.ts"] }
EOF
  node node_modules/typescript/bin/tsc -p "$packed/tsconfig.json"
fi

for major in "${majors[@]}"; do
  bin=${node[$major]}
  version=$("$bin" --version)

  step "$version: conformance suite against the built package"
  PATH="$(dirname "$bin"):$PATH" bash ../shared/conformance/run .

  step "$version: adapter, grant and testing-kit tests against dist/ (msw $(node -p "require('msw/package.json').version"))"
  if [ "$major" -eq 18 ]; then
    MATRIX_VITEST="$PWD/$here/node18/node_modules/vitest" MATRIX_SETUP="$here/node18/setup.ts" "$bin" "$here/node18/node_modules/vitest/vitest.mjs" run --config "$here/vitest.config.mjs"
  else
    "$bin" node_modules/vitest/vitest.mjs run --config "$here/vitest.config.mjs"
  fi

  if [ "$major" -ge 22 ]; then
    step "$version: testing-kit tests on msw $(node -p "require('$msw3/package.json').version")"
    MATRIX_MSW="$msw3" MATRIX_TESTS="test/testing/**/*.test.ts,$here/msw-copy.test.ts" "$bin" node_modules/vitest/vitest.mjs run --config "$here/vitest.config.mjs"
    step "$version: the installed tarball's silent-refresh/testing (ESM and CJS) on msw 3"
    (cd "$packed" && "$bin" kit-smoke.mjs && "$bin" kit-smoke.cjs)
  fi
done

step "node matrix passed: ${majors[*]}"
