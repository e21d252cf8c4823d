#!/usr/bin/env bash
# make demo: the whole job end to end, in a temporary home, printing every
# command and what it shows. Needs bin/plugctl and bin/plugins (make build
# plugins); touches nothing outside a temporary directory.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export PATH="$root/bin:$PATH"
plugins=$root/bin/plugins
work=$(mktemp -d "${TMPDIR:-/tmp}/plugctl-demo.XXXXXX")
server_pid=
cleanup() {
	[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
export PLUGCTL_HOME=$work/home
platform=$(go env GOOS)_$(go env GOARCH)

if [ -t 1 ]; then bold=$(printf '\033[1m') plain=$(printf '\033[0m'); else bold= plain=; fi
say() { printf '\n%s# %s%s\n' "$bold" "$*" "$plain"; }
# run prints the command as it could be typed again, then runs it.
run() {
	local q=() a
	for a in "$@"; do
		case $a in
		*[!A-Za-z0-9_./:@^=+-]*) q+=("'${a//\'/\'\\\'\'}'") ;;
		*) q+=("$a") ;;
		esac
	done
	printf '$ %s\n' "${q[*]}"
	"$@"
}
cd "$work"

say "A publisher puts two releases of greeter (an SDK plugin) and go-plugin's examples/basic net/rpc Greeter in a directory and publishes them to an index"
mkdir site
cp "$plugins/greeter" "site/greeter_1.0.0_$platform"
cp "$plugins/greeter-v2" "site/greeter_2.0.0_$platform"
cp "$plugins/greeter-netrpc" "site/hello_1.0.0_$platform"
cp "$plugins/kv" "site/kv_1.0.0_$platform"
cp "$plugins/kv-js.tar.gz" "site/kv-js_1.0.0_$platform.tar.gz"
run plugctl publish site/index.yaml "site/greeter_1.0.0_$platform" --name greeter --version 1.0.0 --description "Says hello (plugctl SDK, gRPC)"
run plugctl publish site/index.yaml "site/greeter_2.0.0_$platform" --name greeter --version 2.0.0
run plugctl publish site/index.yaml "site/hello_1.0.0_$platform" --name hello --version 1.0.0 --description "go-plugin's examples/basic Greeter (net/rpc)" \
	--kind netrpc --cookie-key BASIC_PLUGIN --cookie-value hello --dispense greeter
run plugctl publish site/index.yaml "site/kv_1.0.0_$platform" --name kv --version 1.0.0 --description "A key-value store (gRPC, from a .proto)" --kind grpc
run plugctl publish site/index.yaml "site/kv-js_1.0.0_$platform.tar.gz" --name kv-js --version 1.0.0 --bin kv-js/kv-js \
	--description "The same KV service in JavaScript (Node.js, no gRPC reflection)" --kind grpc --mtls false
run plugctl index lint site/index.yaml
run cat site/index.yaml

say "...and serves it on loopback"
plugctl serve site --addr 127.0.0.1:0 >serve.out 2>serve.log &
server_pid=$!
for _ in $(seq 50); do grep -q http serve.out 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/^serving .* on \(http:[^ ]*\)$/\1/p' serve.out)
echo "serving at $url"

say "A user adds the index and installs"
run plugctl index add demo "${url}index.yaml"
run plugctl search
run plugctl install greeter@^1 hello kv kv-js
run plugctl list
run plugctl call greeter Greet '"demo"'
run plugctl call hello Greet
run plugctl describe greeter
say "A plugin in another language, without reflection: the schema comes from its .proto"
run plugctl call kv-js Put '{"key": "lang", "value": "javascript"}' --proto "$root/testdata/plugins/kv/proto/kv.proto"
run plugctl call kv-js Count '{"n": 3}' --proto "$root/testdata/plugins/kv/proto/kv.proto"

say "Upgrade: the new version installs side by side and becomes active; the old one stays"
run plugctl outdated
run plugctl upgrade greeter@^2
run plugctl call greeter Greet '"demo"'
run plugctl list
say "Roll back, and forward again"
run plugctl use greeter@1.0.0
run plugctl call greeter Greet --raw '"demo"'
run plugctl use greeter@2.0.0

say "Keep a plugin warm: calls go to it through the keeper start leaves beside it (kv keeps its data in memory)"
run plugctl start kv
run plugctl call kv Put '{"key": "colour", "value": "blue"}'
run plugctl call kv Get '{"key": "colour"}' -v
run plugctl ps
run plugctl health
run plugctl stop --all

say "Many calls, one process: --batch answers one JSON request per line, in order (Get sees what Put stored)"
printf '%s\n' '{"id": 1, "method": "Put", "args": {"key": "colour", "value": "green"}}' \
	'{"id": 2, "method": "Get", "args": {"key": "colour"}}' '{"id": 3, "method": "Nope"}' >requests.jsonl
run cat requests.jsonl
run plugctl call kv --batch requests.jsonl || echo "(exit $?: the code of the first failed request)"

say "Integrity: every installed file re-hashed against its receipt"
run plugctl verify

say "Remove"
run plugctl remove greeter@1.0.0
run plugctl remove hello kv kv-js
run plugctl list
say "done"
