#!/usr/bin/env bash
# setup-tools.sh: install the tools the tests and checks use that a fresh
# machine lacks: staticcheck (go install, a pinned version, into
# $(go env GOPATH)/bin) and the minisign tool (Debian package), which the
# tests use to prove plugctl accepts its signatures.
set -euo pipefail

# staticcheck's release that builds with the Go of go.mod.
staticcheck_version=v0.8.2
staticcheck=$(go env GOPATH)/bin/staticcheck
if ! "$staticcheck" -version 2>/dev/null | grep -q "(${staticcheck_version#v})"; then
	echo "setup-tools: go install honnef.co/go/tools/cmd/staticcheck@$staticcheck_version" >&2
	GOFLAGS= go install "honnef.co/go/tools/cmd/staticcheck@$staticcheck_version"
fi

if command -v minisign >/dev/null; then
	exit 0
fi
sudo=
if [ "$(id -u)" != 0 ]; then
	command -v sudo >/dev/null || { echo "setup-tools: minisign is missing and there is no sudo: apt-get install minisign" >&2; exit 1; }
	sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >/dev/null
$sudo apt-get install -y -qq minisign >/dev/null
command -v minisign >/dev/null
