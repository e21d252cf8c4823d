#!/usr/bin/env bash
# make bench: every comparison side by side in one run (A and B alternate),
# printing medians and the ratio A/B. bench/check.sh compares the ratios
# with their targets. Loopback only; everything in a temporary directory.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
go build -o bin/abtime ./bench/abtime
plugctl=$root/bin/plugctl
abtime=$root/bin/abtime
work=$(mktemp -d "${TMPDIR:-/tmp}/plugctl-bench.XXXXXX")
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
N=${N:-11}
echo "plugctl bench, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(go version | cut -d' ' -f3), N=$N"

# --- install of a 100 MB artifact vs curl -o + sha256sum -----------------
mkdir -p "$work/site"
head -c 100000000 /dev/urandom >"$work/site/big_1.0.0"
sum=$(sha256sum "$work/site/big_1.0.0" | cut -d' ' -f1)
"$plugctl" serve "$work/site" --addr 127.0.0.1:0 >"$work/serve.out" 2>/dev/null &
pids+=($!)
for _ in $(seq 50); do grep -q http "$work/serve.out" 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/^serving .* on \(http:[^ ]*\)$/\1/p' "$work/serve.out")
"$abtime" -n "$N" -name "install 100 MB vs curl+sha256sum" \
	-before-a "rm -rf $work/h1" \
	-a "$plugctl --home $work/h1 install --from ${url}big_1.0.0 --sha256 $sum --name big --version 1.0.0 -q" \
	-before-b "rm -f $work/big.out" \
	-b "curl -sS -o $work/big.out ${url}big_1.0.0 && sha256sum $work/big.out >/dev/null"

# --- list with 200 installed plugins vs --help ------------------------------
mkdir -p "$work/src"
for i in $(seq 200); do
	printf 'plugin %d\n' "$i" >"$work/src/p$i"
	s=$(sha256sum "$work/src/p$i" | cut -d' ' -f1)
	"$plugctl" --home "$work/h200" install -q --from "$work/src/p$i" --sha256 "$s" --name "p$i" --version 1.0.0
done
"$abtime" -n "$N" -name "list (200 plugins) vs --help" \
	-a "$plugctl --home $work/h200 list" -b "$plugctl --help"
