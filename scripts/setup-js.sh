#!/usr/bin/env bash
# setup-js.sh: install the JavaScript example plugin's modules from the npm
# registry, unless node_modules is already newer than package-lock.json.
set -euo pipefail
dir=$(cd "$(dirname "$0")/../testdata/plugins/kv-js" && pwd)
if [ "$dir/node_modules/.package-lock.json" -nt "$dir/package-lock.json" ]; then
	exit 0
fi
command -v npm >/dev/null || { echo "setup-js: npm not found: install Node.js and npm" >&2; exit 1; }
"$dir/setup.sh"
