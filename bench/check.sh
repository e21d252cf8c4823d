#!/usr/bin/env bash
# check.sh: build, run every benchmark and exit 1 when any ratio misses its
# target (see docs/performance.md). Not part of `make test`: timings on a
# shared CI machine are noise there.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
make -C "$root" --no-print-directory build plugins >/dev/null
CHECK=1 exec "$root/bench/run.sh"
