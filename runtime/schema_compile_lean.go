//go:build plugctl_lean

package runtime

import (
	"context"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// compile: the lean build has no .proto compiler.
func compile(ctx context.Context, paths, names []string) ([]protoreflect.FileDescriptor, error) {
	return nil, ErrNoCompiler
}
