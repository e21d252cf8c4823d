package main

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	gproto "google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/plugctl/plugctl/sdk"
	"github.com/plugctl/plugctl/testdata/plugins/kv/proto"
)

// TestMain doubles as the kv plugin for TestGo (go-plugin's helper-process
// pattern).
func TestMain(m *testing.M) {
	if os.Getenv("KV_TEST_PLUGIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

func TestGo(t *testing.T) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "KV_TEST_PLUGIN=1", "GORACE=atexit_sleep_ms=0")
	exercise(t, cmd)
}

// TestJS drives kv-js with go-plugin's own host: the proof that a plugin in
// another language, started without a shell, handshakes, serves and stops.
func TestJS(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("node not installed: plugctl's JavaScript example plugin needs Node.js")
	}
	if _, err := os.Stat("../kv-js/node_modules"); err != nil {
		t.Fatal("kv-js not set up: run make setup-js (or testdata/plugins/kv-js/setup.sh)")
	}
	exercise(t, exec.Command("../kv-js/kv-js"))
}

func exercise(t *testing.T, cmd *exec.Cmd) {
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  sdk.DefaultHandshake,
		Plugins:          plugin.PluginSet{"kv": kvPlugin{}},
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
	if err := rpc.Ping(); err != nil {
		t.Fatalf("health: %v", err)
	}
	raw, err := rpc.Dispense("kv")
	if err != nil {
		t.Fatal(err)
	}
	kv := raw.(proto.KVClient)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	for _, e := range [][2]string{{"b", "2"}, {"a", "1"}, {"c", "3"}} {
		if _, err := kv.Put(ctx, &proto.PutRequest{Key: e[0], Value: e[1]}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := kv.Get(ctx, &proto.GetRequest{Key: "b"})
	if err != nil || got.GetValue() != "2" {
		t.Errorf("Get(b) = %v, %v", got, err)
	}
	_, err = kv.Get(ctx, &proto.GetRequest{Key: "nope"})
	if s, _ := status.FromError(err); s.Code() != codes.NotFound || s.Message() != `key "nope" not found` {
		t.Errorf("Get(nope) error = %v", err)
	}

	list, err := kv.List(ctx, &proto.ListRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for e, err := range recvAll(list) {
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, e.GetKey()+"="+e.GetValue())
	}
	if want := []string{"a=1", "b=2", "c=3"}; !slices.Equal(keys, want) {
		t.Errorf("List = %v, want %v", keys, want)
	}

	count, err := kv.Count(ctx, &proto.CountRequest{N: 4, IntervalMs: 5})
	if err != nil {
		t.Fatal(err)
	}
	var is []int32
	for r, err := range recvAll(count) {
		if err != nil {
			t.Fatal(err)
		}
		is = append(is, r.GetI())
	}
	if want := []int32{1, 2, 3, 4}; !slices.Equal(is, want) {
		t.Errorf("Count = %v, want %v", is, want)
	}

	who, err := kv.Whoami(metadata.AppendToOutgoingContext(ctx, "x-user", "alice"), &proto.Empty{})
	if err != nil || who.GetUser() != "alice" {
		t.Errorf("Whoami = %v, %v", who, err)
	}
	_, err = kv.Whoami(ctx, &proto.Empty{})
	if s, _ := status.FromError(err); s.Code() != codes.Unauthenticated {
		t.Errorf("Whoami without x-user: %v", err)
	}

	pid := cmd.Process.Pid
	start := time.Now()
	client.Kill()
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Kill took %s", d)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("plugin process %d still there after Kill: %v", pid, err)
	}
}

// recvAll ranges over a server stream until io.EOF.
func recvAll[T any](s grpc.ServerStreamingClient[T]) func(func(*T, error) bool) {
	return func(yield func(*T, error) bool) {
		for {
			m, err := s.Recv()
			if errors.Is(err, io.EOF) {
				return
			}
			if !yield(m, err) || err != nil {
				return
			}
		}
	}
}

// TestSchemaFiles checks that the copies of the schema agree with the
// generated code: kv-js/kv.proto and kv.protoset (run generate.sh).
func TestSchemaFiles(t *testing.T) {
	a, err := os.ReadFile("proto/kv.proto")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join("..", "kv-js", "kv.proto"))
	if err != nil || string(a) != string(b) {
		t.Errorf("kv-js/kv.proto differs from kv/proto/kv.proto (%v): run generate.sh", err)
	}
	raw, err := os.ReadFile("kv.protoset")
	if err != nil {
		t.Fatal(err)
	}
	set := &descriptorpb.FileDescriptorSet{}
	if err := gproto.Unmarshal(raw, set); err != nil {
		t.Fatal(err)
	}
	want := protodesc.ToFileDescriptorProto(proto.File_kv_proto)
	if len(set.GetFile()) != 1 || !gproto.Equal(set.GetFile()[0], want) {
		t.Errorf("kv.protoset does not match the generated code: run generate.sh")
	}
}
