//go:build plugctl_lean

package runtime

import (
	"context"
	"errors"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// ErrNoCompiler is returned for .proto files by a build without the
// compiler (tag plugctl_lean: the plugctl front end, which hands calls with
// --proto to plugctl-core; protocompile's initialisation costs every
// command about 0.5 ms, see README.md, Performance).
var ErrNoCompiler = errors.New("this build has no .proto compiler (plugctl_lean)")

func compile(ctx context.Context, paths, names []string) ([]protoreflect.FileDescriptor, error) {
	return nil, ErrNoCompiler
}
