package main

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	gproto "google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/plugctl/plugctl/runtime"
	"github.com/plugctl/plugctl/testdata/plugins/nomad-driver/proto"
)

// TestMain doubles as the plugin for TestServe (go-plugin's helper-process
// pattern).
func TestMain(m *testing.M) {
	if os.Getenv("NOMAD_DRIVER_TEST_PLUGIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// TestServe launches the plugin with go-plugin's own host and the nomad
// profile's handshake, dispenses "base" and calls every method.
func TestServe(t *testing.T) {
	hs, name := handshake()
	if hs.MagicCookieKey != "NOMAD_PLUGIN_MAGIC_COOKIE" || hs.ProtocolVersion != 2 || name != "base" {
		t.Fatalf("handshake %+v, dispense %q: not the nomad profile's", hs, name)
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "NOMAD_DRIVER_TEST_PLUGIN=1", "GORACE=atexit_sleep_ms=0")
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  hs,
		Plugins:          plugin.PluginSet{name: basePlugin{}},
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           hclog.New(&hclog.LoggerOptions{Output: io.Discard}),
		StartTimeout:     20 * time.Second,
		UnixSocketConfig: &plugin.UnixSocketConfig{TempDir: t.TempDir()},
	})
	defer client.Kill()
	rpc, err := client.Client()
	if err != nil {
		t.Fatal(err)
	}
	if v := client.NegotiatedVersion(); v != 2 {
		t.Errorf("negotiated protocol version %d, want 2", v)
	}
	raw, err := rpc.Dispense(name)
	if err != nil {
		t.Fatal(err)
	}
	base := raw.(proto.BasePluginClient)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	info, err := base.PluginInfo(ctx, &proto.PluginInfoRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if info.GetType() != proto.PluginType_DRIVER || !slices.Equal(info.GetPluginApiVersions(), []string{"v0.1.0"}) || info.GetName() != "nomad-driver" {
		t.Errorf("PluginInfo = %v", info)
	}
	schema, err := base.ConfigSchema(ctx, &proto.ConfigSchemaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	attrs := schema.GetSpec().GetObject().GetAttributes()
	if attrs["enabled"].GetAttr().GetType() != "bool" || attrs["label"].GetDefault().GetDefault().GetLiteral().GetValue() != `"default"` {
		t.Errorf("ConfigSchema = %v", schema)
	}

	// {"enabled": true, "label": "dev"} as MessagePack.
	good := append(append([]byte{0x82, 0xa7}, "enabled"...), 0xc3, 0xa5)
	good = append(append(append(good, "label"...), 0xa3), "dev"...)
	if _, err := base.SetConfig(ctx, &proto.SetConfigRequest{MsgpackConfig: good, PluginApiVersion: "v0.1.0"}); err != nil {
		t.Errorf("SetConfig: %v", err)
	}
	for _, c := range []struct {
		req  *proto.SetConfigRequest
		want string
	}{
		{&proto.SetConfigRequest{MsgpackConfig: []byte(`{"enabled":true}`)}, "not a MessagePack map"},
		{&proto.SetConfigRequest{MsgpackConfig: append(append([]byte{0x81, 0xa7}, "enabled"...), 0xa3, 'y', 'e', 's')}, `attribute "enabled" is a string, want bool`},
		{&proto.SetConfigRequest{MsgpackConfig: append(append([]byte{0x81, 0xa3}, "foo"...), 0xc0)}, `unknown attribute "foo"`},
		{&proto.SetConfigRequest{MsgpackConfig: good[:len(good)-1]}, "cut short"},
		{&proto.SetConfigRequest{PluginApiVersion: "v9.0.0"}, `plugin API version "v9.0.0"`},
	} {
		_, err := base.SetConfig(ctx, c.req)
		if s, _ := status.FromError(err); s.Code() != codes.InvalidArgument || !strings.Contains(s.Message(), c.want) {
			t.Errorf("SetConfig(%v) = %v, want InvalidArgument %q", c.req, err, c.want)
		}
	}

	pid := cmd.Process.Pid
	client.Kill()
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("plugin process %d still there after Kill: %v", pid, err)
	}
}

// TestProtoMatchesGenerated checks that the generated code is that of the
// .proto files as plugctl compiles them for install --proto (run
// generate.sh after changing them).
func TestProtoMatchesGenerated(t *testing.T) {
	raw, err := runtime.SchemaSet(context.Background(), []string{filepath.Join("proto", "base.proto")}, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	set := &descriptorpb.FileDescriptorSet{}
	if err := gproto.Unmarshal(raw, set); err != nil {
		t.Fatal(err)
	}
	gen := map[string]protoreflect.FileDescriptor{"base.proto": proto.File_base_proto, "hcl_spec.proto": proto.File_hcl_spec_proto}
	if len(set.GetFile()) != len(gen) {
		t.Fatalf("compiled %d files, want %d", len(set.GetFile()), len(gen))
	}
	for _, f := range set.GetFile() {
		g, ok := gen[f.GetName()]
		if !ok {
			t.Fatalf("compiled a file %q the generated code does not have", f.GetName())
		}
		want := protodesc.ToFileDescriptorProto(g)
		for _, fd := range []*descriptorpb.FileDescriptorProto{f, want} {
			fd.SourceCodeInfo = nil
			clearJSONNames(fd.GetMessageType())
		}
		if !gproto.Equal(f, want) {
			t.Errorf("proto/%s does not match the generated code: run generate.sh", f.GetName())
		}
	}
}

// clearJSONNames drops json_name, which protoc fills in and protocompile
// leaves unset: both mean the same lowerCamelCase name.
func clearJSONNames(msgs []*descriptorpb.DescriptorProto) {
	for _, m := range msgs {
		for _, f := range m.GetField() {
			f.JsonName = nil
		}
		clearJSONNames(m.GetNestedType())
	}
}
