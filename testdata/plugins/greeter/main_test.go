package main

import (
	"context"
	"io"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/plugctl/plugctl/sdk"
)

// TestMain doubles as the greeter plugin (go-plugin's helper-process
// pattern); GREETER_TEST_VERSION stands in for -ldflags -X main.version.
func TestMain(m *testing.M) {
	if v := os.Getenv("GREETER_TEST_VERSION"); v != "" {
		version = v
		main()
		return
	}
	os.Exit(m.Run())
}

func start(t *testing.T, v string) *grpc.ClientConn {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "GREETER_TEST_VERSION="+v, "GORACE=atexit_sleep_ms=0")
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  sdk.DefaultHandshake,
		Plugins:          plugin.PluginSet{},
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           hclog.New(&hclog.LoggerOptions{Output: io.Discard}),
		StartTimeout:     20 * time.Second,
	})
	t.Cleanup(client.Kill)
	rpc, err := client.Client()
	if err != nil {
		t.Fatal(err)
	}
	return rpc.(*plugin.GRPCClient).Conn
}

func call(conn *grpc.ClientConn, method, arg string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out := &wrapperspb.StringValue{}
	var in any = wrapperspb.String(arg)
	if method == "Version" {
		in = &emptypb.Empty{}
	}
	err := conn.Invoke(ctx, "/plugctl.sdk.greeter.Greeter/"+method, in, out)
	return out.GetValue(), err
}

func TestVersions(t *testing.T) {
	tests := []struct {
		version, method, arg, want string
		code                       codes.Code
	}{
		{"1.0.0", "Greet", "world", "Hello, world!", codes.OK},
		{"1.0.0", "Greet", "", "Hello, world!", codes.OK},
		{"1.0.0", "Version", "", "1.0.0", codes.OK},
		{"1.0.0", "Farewell", "world", "", codes.Unimplemented},
		{"2.0.0", "Greet", "world", "Hi there, world!", codes.OK},
		{"2.0.0", "Farewell", "world", "Goodbye, world!", codes.OK},
		{"2.0.0", "Version", "", "2.0.0", codes.OK},
	}
	conns := map[string]*grpc.ClientConn{}
	for _, tt := range tests {
		conn := conns[tt.version]
		if conn == nil {
			conn = start(t, tt.version)
			conns[tt.version] = conn
		}
		got, err := call(conn, tt.method, tt.arg)
		if status.Code(err) != tt.code || got != tt.want {
			t.Errorf("v%s %s(%q) = %q, %v; want %q, %s", tt.version, tt.method, tt.arg, got, err, tt.want, tt.code)
		}
	}
	_, err := call(conns["1.0.0"], "Fail", "")
	if s, _ := status.FromError(err); s.Code() != codes.Unknown || s.Message() != "greeter failed on purpose" {
		t.Errorf("Fail: %v", err)
	}
}
