#!/usr/bin/env bash
# check.sh: run every benchmark and exit 1 when any ratio misses its target
# (see README.md, Performance). Not part of `make test`: timings on a shared
# CI machine are noise there.
set -euo pipefail
CHECK=1 exec "$(dirname "$0")/run.sh"
