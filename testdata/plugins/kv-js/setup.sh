#!/bin/sh
# Installs kv-js's dependencies (node_modules, not checked in) exactly as
# package-lock.json records them.
set -eu
cd "$(dirname "$0")"
exec npm ci --no-audit --no-fund
