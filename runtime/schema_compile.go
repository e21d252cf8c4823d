package runtime

import (
	"context"
	"io"

	"github.com/bufbuild/protocompile"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/plugctl/plugctl/internal/regfile"
)

// compile compiles the .proto files names, found in paths (protoc's -I),
// with the standard imports (google/protobuf/*.proto) built in.
func compile(ctx context.Context, paths, names []string) ([]protoreflect.FileDescriptor, error) {
	c := protocompile.Compiler{
		Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
			ImportPaths: paths,
			// A FIFO named by --proto must not block the open.
			Accessor: func(p string) (io.ReadCloser, error) { return regfile.Open(p) },
		}),
	}
	linked, err := c.Compile(ctx, names...)
	if err != nil {
		return nil, err
	}
	fds := make([]protoreflect.FileDescriptor, len(linked))
	for i, f := range linked {
		fds[i] = f
	}
	return fds, nil
}
