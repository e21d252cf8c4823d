#!/usr/bin/env bash
# build-ecosystem-plugins.sh DIR: build the SDK test plugins of
# testdata/ecosystems into DIR, each from its own module (the ecosystems'
# SDKs are not plugctl's dependencies), and copy beside them the .proto
# schemas their SDKs serve without reflection: tfplugin5.proto,
# tfplugin6.proto (terraform-plugin-go), backend.proto
# (grafana-plugin-sdk-go), and vault/sdk's plugin/pb/backend.proto with the
# logical/*.proto it imports, under vaultproto/sdk/ (the import path is
# vaultproto). vaultkv's module also builds vaulthost, the storage and
# system view its Setup calls back. The scripts in
# testdata/script/eco_*.txtar run against DIR when PLUGCTL_ECOSYSTEMS names
# it (make check does), and skip otherwise. The builds compile the SDKs: see
# docs/ecosystems.md for how long that takes.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$(mkdir -p "$1" && cd "$1" && pwd)
export GOFLAGS=${GOFLAGS:--buildvcs=false}
# The modules' go lines are met by this Go: never fetch another toolchain.
export GOTOOLCHAIN=local CGO_ENABLED=0

cd "$root/testdata/ecosystems/tfprovider"
go build -trimpath -o "$out/tfprovider" .
tfgo=$(go list -m -f '{{.Dir}}' github.com/hashicorp/terraform-plugin-go)
install -m 0644 "$tfgo/tfprotov5/internal/tfplugin5/tfplugin5.proto" "$tfgo/tfprotov6/internal/tfplugin6/tfplugin6.proto" "$out/"

cd "$root/testdata/ecosystems/grafanads"
go build -trimpath -o "$out/grafanads" .
sdk=$(go list -m -f '{{.Dir}}' github.com/grafana/grafana-plugin-sdk-go)
install -m 0644 "$sdk/proto/backend.proto" "$out/"

cd "$root/testdata/ecosystems/vaultkv"
go build -trimpath -o "$out/vaultkv" .
go build -trimpath -o "$out/vaulthost" ./cmd/vaulthost
vsdk=$(go list -m -f '{{.Dir}}' github.com/hashicorp/vault/sdk)
mkdir -p "$out/vaultproto/sdk/plugin/pb" "$out/vaultproto/sdk/logical"
install -m 0644 "$vsdk/plugin/pb/backend.proto" "$out/vaultproto/sdk/plugin/pb/"
install -m 0644 "$vsdk"/logical/*.proto "$out/vaultproto/sdk/logical/"
