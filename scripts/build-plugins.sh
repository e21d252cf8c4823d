#!/usr/bin/env bash
# build-plugins.sh DIR: build every example plugin of testdata/plugins into
# DIR (see testdata/plugins/README.md), and pack the JavaScript one with its
# node_modules as DIR/kv-js.tar.gz when they are installed (setup-js.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$(mkdir -p "$1" && cd "$1" && pwd)
cd "$root"
export GOFLAGS=${GOFLAGS:--buildvcs=false}

# One go build for every plain plugin: the packages compile in parallel.
plain=()
for d in testdata/plugins/*/; do
	name=$(basename "$d")
	[ -f "$d/main.go" ] || continue
	case $name in rogue) continue ;; esac
	plain+=("./$d")
done
go build -o "$out/" "${plain[@]}"

go build -ldflags "-X main.version=2.0.0" -o "$out/greeter-v2" ./testdata/plugins/greeter
for mode in hang garbage exit wrongcookie panic noisy grandchild marker; do
	go build -ldflags "-X main.mode=$mode" -o "$out/rogue-$mode" ./testdata/plugins/rogue &
done
wait

if [ -d testdata/plugins/kv-js/node_modules ]; then
	# No symlinks in an artifact: node_modules/.bin holds only links to scripts.
	tar czf "$out/kv-js.tar.gz" --exclude=node_modules/.bin -C testdata/plugins kv-js
fi
