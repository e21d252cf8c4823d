// Command chat is a test plugin whose methods stream requests: a go-plugin
// gRPC plugin (default handshake PLUGCTL_PLUGIN=plugctl, protocol version
// 1, plugin map name "chat") serving plugctl.test.chat.Chat, with gRPC
// reflection. Its schema is compiled from the .proto text below when it
// starts (no generated code):
//
//   - Echo (bidirectional) answers each Line as it arrives, before reading
//     the next: its text upper-cased and its position n (1, 2, ...); a Line
//     "fail" ends the call with FAILED_PRECONDITION.
//
//   - Join (client-streaming) answers once the send side closes: the texts
//     joined by spaces, and how many Lines came.
//
//     go build -o chat ./testdata/plugins/chat
package main

import (
	"context"
	"io"
	"io/fs"
	"strings"

	"github.com/bufbuild/protocompile"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/plugctl/plugctl/sdk"
)

const source = `syntax = "proto3";
package plugctl.test.chat;
message Line {
  string text = 1;
  int32 n = 2;
}
service Chat {
  rpc Echo(stream Line) returns (stream Line);
  rpc Join(stream Line) returns (Line);
}
`

// service compiles source and registers it, so that reflection serves it.
func service() protoreflect.ServiceDescriptor {
	c := protocompile.Compiler{Resolver: &protocompile.SourceResolver{
		Accessor: func(name string) (io.ReadCloser, error) {
			if name != "chat.proto" {
				return nil, fs.ErrNotExist
			}
			return io.NopCloser(strings.NewReader(source)), nil
		},
	}}
	files, err := c.Compile(context.Background(), "chat.proto")
	if err != nil {
		panic(err)
	}
	fd, err := protodesc.NewFile(protodesc.ToFileDescriptorProto(files[0]), protoregistry.GlobalFiles)
	if err != nil {
		panic(err)
	}
	if err := protoregistry.GlobalFiles.RegisterFile(fd); err != nil {
		panic(err)
	}
	return fd.Services().Get(0)
}

func line(md protoreflect.MessageDescriptor, text string, n int) *dynamicpb.Message {
	m := dynamicpb.NewMessage(md)
	m.Set(md.Fields().ByName("text"), protoreflect.ValueOfString(text))
	m.Set(md.Fields().ByName("n"), protoreflect.ValueOfInt32(int32(n)))
	return m
}

func text(m *dynamicpb.Message) string {
	return m.Get(m.Descriptor().Fields().ByName("text")).String()
}

func echo(md protoreflect.MethodDescriptor, st grpc.ServerStream) error {
	for n := 1; ; n++ {
		in := dynamicpb.NewMessage(md.Input())
		if err := st.RecvMsg(in); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
		if text(in) == "fail" {
			return status.Errorf(codes.FailedPrecondition, "asked to fail at line %d", n)
		}
		if err := st.SendMsg(line(md.Output(), strings.ToUpper(text(in)), n)); err != nil {
			return err
		}
	}
}

func join(md protoreflect.MethodDescriptor, st grpc.ServerStream) error {
	var texts []string
	for {
		in := dynamicpb.NewMessage(md.Input())
		if err := st.RecvMsg(in); err == io.EOF {
			break
		} else if err != nil {
			return err
		}
		texts = append(texts, text(in))
	}
	return st.SendMsg(line(md.Output(), strings.Join(texts, " "), len(texts)))
}

type chatPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	svc protoreflect.ServiceDescriptor
}

func (p chatPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	desc := &grpc.ServiceDesc{ServiceName: string(p.svc.FullName()), HandlerType: (*any)(nil)}
	for name, h := range map[string]func(protoreflect.MethodDescriptor, grpc.ServerStream) error{"Echo": echo, "Join": join} {
		md := p.svc.Methods().ByName(protoreflect.Name(name))
		desc.Streams = append(desc.Streams, grpc.StreamDesc{
			StreamName:    name,
			ClientStreams: true,
			ServerStreams: md.IsStreamingServer(),
			Handler:       func(_ any, st grpc.ServerStream) error { return h(md, st) },
		})
	}
	s.RegisterService(desc, struct{}{})
	return nil
}

func (chatPlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, nil
}

func main() {
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: sdk.DefaultHandshake,
		Plugins:         plugin.PluginSet{"chat": chatPlugin{svc: service()}},
		GRPCServer:      plugin.DefaultGRPCServer,
	})
}
