#!/usr/bin/env bash
# build-plugins.sh DIR: build every example plugin of testdata/plugins and
# go-plugin's own examples into DIR (see testdata/plugins/README.md), and
# pack the JavaScript one with its node_modules (installed by setup-js.sh
# when missing) as DIR/kv-js.tar.gz: without npm it is left out, with a note
# (the tests that need it say so).
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
pids=()
for mode in hang garbage exit wrongcookie panic noisy grandchild marker hijack; do
	go build -ldflags "-X main.mode=$mode" -o "$out/rogue-$mode" ./testdata/plugins/rogue &
	pids+=($!)
done
# go-plugin's own examples, unmodified, from the module version go.mod
# requires: goplugin-<example> (see testdata/plugins/README.md).
examples=github.com/hashicorp/go-plugin/examples
for pair in basic:basic/plugin grpc:grpc/plugin-go-grpc grpc-netrpc:grpc/plugin-go-netrpc \
	negotiated:negotiated/plugin-go bidirectional:bidirectional/plugin-go-grpc streaming:streaming/plugin; do
	go build -o "$out/goplugin-${pair%%:*}" "$examples/${pair#*:}" &
	pids+=($!)
done
# A bare `wait` would hide a failed build.
for p in "${pids[@]}"; do wait "$p"; done

if ! command -v npm >/dev/null; then
	echo "build-plugins: npm not found: kv-js.tar.gz (the JavaScript plugin) not built" >&2
	exit 0
fi
./scripts/setup-js.sh
# No symlinks in an artifact: node_modules/.bin holds only links to scripts.
tar czf "$out/kv-js.tar.gz" --exclude=node_modules/.bin -C testdata/plugins kv-js
