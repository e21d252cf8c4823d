package runtime

import (
	"context"
	"fmt"
	"os"
	"sort"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// SchemaSet returns a gRPC schema as a FileDescriptorSet, the form an
// installed version keeps (and Spec.Protoset reads): compiled from .proto
// files (as CallOptions.ProtoFiles and ImportPaths), or read from a
// protoset file and checked to be one. It is how install --from stores a
// schema with the version, so that later calls need no flag.
func SchemaSet(ctx context.Context, protoFiles, importPaths []string, protoset string) ([]byte, error) {
	if protoset != "" {
		if len(protoFiles) > 0 {
			return nil, &ArgError{Err: fmt.Errorf("give the schema as .proto files or as a protoset, not both")}
		}
		if _, err := readProtoset(protoset, ""); err != nil {
			return nil, err
		}
		return os.ReadFile(protoset)
	}
	s, err := compileProtos(ctx, protoFiles, importPaths)
	if err != nil {
		return nil, err
	}
	set := &descriptorpb.FileDescriptorSet{}
	s.files.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		set.File = append(set.File, protodesc.ToFileDescriptorProto(fd))
		return true
	})
	sort.Slice(set.File, func(i, j int) bool { return set.File[i].GetName() < set.File[j].GetName() })
	return proto.MarshalOptions{Deterministic: true}.Marshal(set)
}
