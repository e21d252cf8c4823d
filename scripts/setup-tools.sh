#!/usr/bin/env bash
# setup-tools.sh: install the tools the tests use that a fresh machine lacks:
# the minisign tool (Debian package), to prove plugctl accepts its signatures.
set -euo pipefail
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
