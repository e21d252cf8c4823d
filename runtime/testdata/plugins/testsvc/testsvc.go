// Package testsvc is the gRPC service of runtime's test plugins, built from
// test.proto at start-up with protocompile and dynamicpb, so no generated
// code is checked in.
package testsvc

import (
	"context"
	_ "embed"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/bufbuild/protocompile"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"
	_ "google.golang.org/protobuf/types/known/emptypb"
)

//go:embed test.proto
var source string

// File compiles test.proto and registers it globally, so gRPC reflection
// serves it.
func File() protoreflect.FileDescriptor {
	c := protocompile.Compiler{Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
		Accessor: func(name string) (io.ReadCloser, error) {
			if name != "test/v1/test.proto" {
				return nil, fs.ErrNotExist
			}
			return io.NopCloser(strings.NewReader(source)), nil
		},
	})}
	files, err := c.Compile(context.Background(), "test/v1/test.proto")
	if err != nil {
		panic(err)
	}
	fdp := protodesc.ToFileDescriptorProto(files[0])
	fd, err := protodesc.NewFile(fdp, protoregistry.GlobalFiles)
	if err != nil {
		panic(err)
	}
	if err := protoregistry.GlobalFiles.RegisterFile(fd); err != nil {
		panic(err)
	}
	return fd
}

// Register adds the services of test.proto to s.
func Register(s *grpc.Server) {
	fd := File()
	for i := 0; i < fd.Services().Len(); i++ {
		sd := fd.Services().Get(i)
		desc := &grpc.ServiceDesc{ServiceName: string(sd.FullName()), HandlerType: (*any)(nil)}
		for j := 0; j < sd.Methods().Len(); j++ {
			md := sd.Methods().Get(j)
			if md.IsStreamingClient() || md.IsStreamingServer() {
				desc.Streams = append(desc.Streams, grpc.StreamDesc{
					StreamName:    string(md.Name()),
					ServerStreams: md.IsStreamingServer(),
					ClientStreams: md.IsStreamingClient(),
					Handler: func(_ any, st grpc.ServerStream) error {
						return stream(md, st)
					},
				})
				continue
			}
			desc.Methods = append(desc.Methods, grpc.MethodDesc{
				MethodName: string(md.Name()),
				Handler: func(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
					in := dynamicpb.NewMessage(md.Input())
					if err := dec(in); err != nil {
						return nil, err
					}
					return unary(ctx, md, in)
				},
			})
		}
		s.RegisterService(desc, struct{}{})
	}
}

func set(m *dynamicpb.Message, field string, v protoreflect.Value) {
	m.Set(m.Descriptor().Fields().ByName(protoreflect.Name(field)), v)
}

func get(m *dynamicpb.Message, field string) protoreflect.Value {
	return m.Get(m.Descriptor().Fields().ByName(protoreflect.Name(field)))
}

func unary(ctx context.Context, md protoreflect.MethodDescriptor, in *dynamicpb.Message) (any, error) {
	out := dynamicpb.NewMessage(md.Output())
	switch md.Name() {
	case "Echo":
		msg := get(in, "message").String()
		if md.Parent().Name() == "Other" {
			msg = "other: " + msg
		}
		set(out, "message", protoreflect.ValueOfString(msg))
		set(out, "color", get(in, "color"))
		set(out, "n", protoreflect.ValueOfInt64(int64(get(in, "tags").List().Len())))
	case "Fail":
		return nil, status.Errorf(codes.NotFound, "no such thing: %s", get(in, "message").String())
	case "Meta":
		md, _ := metadata.FromIncomingContext(ctx)
		var keys []string
		for k, vs := range md {
			if strings.HasPrefix(k, "x-") {
				keys = append(keys, k+"="+strings.Join(vs, ","))
			}
		}
		sort.Strings(keys)
		l := out.Mutable(out.Descriptor().Fields().ByName("metadata")).List()
		for _, k := range keys {
			l.Append(protoreflect.ValueOfString(k))
		}
	case "Panic":
		go func() { panic("test plugin asked to panic") }()
		time.Sleep(time.Minute)
	case "Noisy":
		fmt.Println("noise on os.Stdout during the call")
		fmt.Fprintln(os.Stderr, "noise on os.Stderr during the call")
		os.NewFile(1, "fd1").WriteString("noise on fd 1 during the call\n")
		os.NewFile(2, "fd2").WriteString("noise on fd 2 during the call\n")
		set(out, "message", protoreflect.ValueOfString("quiet result"))
	case "Stdin":
		target, err := os.Readlink("/proc/self/fd/0")
		if err != nil {
			target = "error: " + err.Error()
		}
		set(out, "stdin", protoreflect.ValueOfString(target))
	case "Sleep":
		// Deaf to the deadline, as a stuck plugin would be.
		time.Sleep(time.Duration(get(in, "n").Int()) * time.Millisecond)
	case "Ping":
	default:
		return nil, status.Errorf(codes.Unimplemented, "%s not implemented", md.Name())
	}
	return out, nil
}

func stream(md protoreflect.MethodDescriptor, st grpc.ServerStream) error {
	switch md.Name() {
	case "Count":
		in := dynamicpb.NewMessage(md.Input())
		if err := st.RecvMsg(in); err != nil {
			return err
		}
		for i := int64(1); i <= get(in, "n").Int(); i++ {
			out := dynamicpb.NewMessage(md.Output())
			set(out, "n", protoreflect.ValueOfInt64(i))
			if err := st.SendMsg(out); err != nil {
				return err
			}
		}
		return nil
	case "Chat":
		// Each request is answered as it arrives, before the next is
		// read: a host must read answers while it still sends.
		for n := int64(1); ; n++ {
			in := dynamicpb.NewMessage(md.Input())
			if err := st.RecvMsg(in); err == io.EOF {
				return nil
			} else if err != nil {
				return err
			}
			msg := get(in, "message").String()
			if msg == "fail" {
				return status.Errorf(codes.FailedPrecondition, "asked to fail at message %d", n)
			}
			out := dynamicpb.NewMessage(md.Output())
			set(out, "message", protoreflect.ValueOfString(strings.ToUpper(msg)))
			set(out, "n", protoreflect.ValueOfInt64(n))
			if err := st.SendMsg(out); err != nil {
				return err
			}
		}
	case "Collect":
		var msgs []string
		for {
			in := dynamicpb.NewMessage(md.Input())
			if err := st.RecvMsg(in); err == io.EOF {
				break
			} else if err != nil {
				return err
			}
			msgs = append(msgs, get(in, "message").String())
		}
		out := dynamicpb.NewMessage(md.Output())
		set(out, "message", protoreflect.ValueOfString(strings.Join(msgs, " ")))
		set(out, "n", protoreflect.ValueOfInt64(int64(len(msgs))))
		return st.SendMsg(out)
	}
	return status.Errorf(codes.Unimplemented, "%s not implemented", md.Name())
}

// Misbehave does what TESTPLUGIN_MODE (a comma-separated list) asks before
// the plugin serves.
func Misbehave() {
	if marker := os.Getenv("TESTPLUGIN_MARKER"); marker != "" {
		_ = os.WriteFile(marker, []byte("ran\n"), 0o644)
	}
	modes := map[string]bool{}
	for _, m := range strings.Split(os.Getenv("TESTPLUGIN_MODE"), ",") {
		modes[m] = true
	}
	if modes["stderr-before"] {
		fmt.Fprintln(os.Stderr, "noise on stderr before serving")
	}
	if modes["grandchild"] || modes["grandchild-setsid"] {
		cmd := exec.Command("sleep", "300")
		// In its own session, it escapes the plugin's process group.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: modes["grandchild-setsid"]}
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Start(); err != nil {
			panic(err)
		}
		if f := os.Getenv("TESTPLUGIN_PIDFILE"); f != "" {
			_ = os.WriteFile(f, []byte(fmt.Sprint(cmd.Process.Pid)), 0o644)
		}
	}
	if modes["hang"] {
		if f := os.Getenv("TESTPLUGIN_PIDFILE"); f != "" {
			_ = os.WriteFile(f, []byte(fmt.Sprint(os.Getpid())), 0o644)
		}
		time.Sleep(time.Hour)
	}
	if modes["exit-start"] {
		os.Exit(3)
	}
	if modes["panic-start"] {
		panic("test plugin panics at start")
	}
}

// Modes reports whether TESTPLUGIN_MODE holds mode.
func Mode(mode string) bool {
	for _, m := range strings.Split(os.Getenv("TESTPLUGIN_MODE"), ",") {
		if m == mode {
			return true
		}
	}
	return false
}
