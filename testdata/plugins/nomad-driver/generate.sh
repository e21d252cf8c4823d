#!/bin/sh
# Regenerates the checked-in Go code from proto/base.proto and
# proto/hcl_spec.proto. Needs protoc (apt-get install protobuf-compiler),
# protoc-gen-go v1.36.12 and protoc-gen-go-grpc v1.6.2 on PATH:
#   go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
#   go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
# Tests never run it; go test ./testdata/plugins/nomad-driver fails when the
# generated code no longer matches the .proto files.
set -eu
cd "$(dirname "$0")"
protoc -I proto --go_out=proto --go_opt=paths=source_relative \
	--go-grpc_out=proto --go-grpc_opt=paths=source_relative \
	proto/base.proto proto/hcl_spec.proto
