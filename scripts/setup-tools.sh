#!/usr/bin/env bash
# setup-tools.sh: install the tools the tests and checks use that a fresh
# machine lacks: staticcheck (go install, a pinned version, into
# $(go env GOPATH)/bin); the minisign tool (Debian package), to prove plugctl
# accepts its signatures; Debian's docker-registry (the CNCF distribution
# registry), which the OCI tests start themselves on 127.0.0.1 (never its
# systemd service); and the oras CLI, built from its module, for
# interoperability with plugctl's pushes.
set -euo pipefail
ORAS_VERSION=v1.3.6
GO=${GO:-go}

# staticcheck's release that builds with the Go of go.mod.
staticcheck_version=v0.8.2
staticcheck=$($GO env GOPATH)/bin/staticcheck
if ! "$staticcheck" -version 2>/dev/null | grep -q "(${staticcheck_version#v})"; then
	echo "setup-tools: go install honnef.co/go/tools/cmd/staticcheck@$staticcheck_version" >&2
	GOFLAGS= GOTOOLCHAIN=local $GO install "honnef.co/go/tools/cmd/staticcheck@$staticcheck_version"
fi

sudo=
need_sudo() {
	if [ "$(id -u)" != 0 ]; then
		command -v sudo >/dev/null || { echo "setup-tools: $1 is missing and there is no sudo: apt-get install $1" >&2; exit 1; }
		sudo=sudo
	fi
}

missing=()
command -v minisign >/dev/null || missing+=(minisign)
command -v docker-registry >/dev/null || missing+=(docker-registry)
if [ ${#missing[@]} -gt 0 ]; then
	need_sudo "${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -qq >/dev/null
	# policy-rc.d exit 101 keeps the package's service from starting on
	# install; the tests run their own registries.
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
		$sudo chmod 755 /usr/sbin/policy-rc.d
		trap '$sudo rm -f /usr/sbin/policy-rc.d' EXIT
	fi
	$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v minisign >/dev/null
command -v docker-registry >/dev/null

if ! command -v oras >/dev/null; then
	GOTOOLCHAIN=local $GO install oras.land/oras/cmd/oras@$ORAS_VERSION
	command -v oras >/dev/null || { echo "setup-tools: oras installed into $($GO env GOPATH)/bin, which is not on PATH" >&2; exit 1; }
fi
