package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/plugctl/plugctl/sdk"
)

// TestMain doubles as the rogue plugin (go-plugin's helper-process
// pattern); ROGUE_TEST_MODE stands in for -ldflags -X main.mode.
func TestMain(m *testing.M) {
	if v := os.Getenv("ROGUE_TEST_MODE"); v != "" {
		mode = v
		main()
		return
	}
	os.Exit(m.Run())
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newClient(t *testing.T, mode string, env ...string) (*plugin.Client, *syncBuffer) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(append(os.Environ(), "ROGUE_TEST_MODE="+mode, "GORACE=atexit_sleep_ms=0"), env...)
	stderr := &syncBuffer{}
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  sdk.DefaultHandshake,
		Plugins:          plugin.PluginSet{},
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           hclog.New(&hclog.LoggerOptions{Output: stderr, Level: hclog.Debug}),
		Stderr:           stderr,
		StartTimeout:     2 * time.Second,
	})
	t.Cleanup(client.Kill)
	return client, stderr
}

func TestStartFailures(t *testing.T) {
	for _, tt := range []struct {
		mode   string
		errs   []string // any of these
		stderr string
	}{
		{"hang", []string{"timeout while waiting for plugin to start"}, ""},
		{"garbage", []string{"Unrecognized remote plugin message: this is not a handshake"}, ""},
		// Whether go-plugin notices the exit or the empty stdout first is a race.
		{"exit", []string{"plugin exited before we could connect", "Failed to read any lines"}, "rogue: exiting with status 3"},
		{"wrongcookie", []string{"plugin exited before we could connect", "Failed to read any lines"}, "This binary is a plugin"},
	} {
		t.Run(tt.mode, func(t *testing.T) {
			t.Parallel()
			client, stderr := newClient(t, tt.mode)
			_, err := client.Client()
			if err == nil || !slices.ContainsFunc(tt.errs, func(s string) bool { return strings.Contains(err.Error(), s) }) {
				t.Errorf("start error = %v, want one of %q", err, tt.errs)
			}
			// go-plugin copies stderr on its own goroutine, which can still
			// be copying when Client returns; Kill waits for it.
			client.Kill()
			if !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tt.stderr, stderr)
			}
		})
	}
}

func call(t *testing.T, client *plugin.Client, method string) (string, error) {
	rpc, err := client.Client()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out := &wrapperspb.StringValue{}
	err = rpc.(*plugin.GRPCClient).Conn.Invoke(ctx, "/plugctl.sdk.rogue.Rogue/"+method, &emptypb.Empty{}, out)
	return out.GetValue(), err
}

func TestServingModes(t *testing.T) {
	t.Run("panic", func(t *testing.T) {
		t.Parallel()
		client, stderr := newClient(t, "panic")
		if got, err := call(t, client, "Ping"); got != "pong" || err != nil {
			t.Fatalf("Ping = %q, %v", got, err)
		}
		_, err := call(t, client, "Boom")
		if status.Code(err) != codes.Unavailable {
			t.Errorf("Boom error = %v, want Unavailable", err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for !client.Exited() && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if !client.Exited() {
			t.Error("the plugin did not exit after panicking")
		}
		client.Kill() // waits for go-plugin's stderr copy (see TestStartFailures)
		if !strings.Contains(stderr.String(), "panic: kaboom") {
			t.Errorf("stderr lacks the panic:\n%s", stderr)
		}
	})
	t.Run("noisy", func(t *testing.T) {
		t.Parallel()
		client, _ := newClient(t, "noisy")
		if got, err := call(t, client, "Noise"); got != "ok" || err != nil {
			t.Errorf("Noise = %q, %v", got, err)
		}
	})
	t.Run("marker", func(t *testing.T) {
		t.Parallel()
		marker := filepath.Join(t.TempDir(), "ran")
		client, _ := newClient(t, "marker", "PLUGCTL_TEST_MARKER="+marker)
		if got, err := call(t, client, "Mode"); got != "marker" || err != nil {
			t.Errorf("Mode = %q, %v", got, err)
		}
		if _, err := os.Stat(marker); err != nil {
			t.Errorf("marker: %v", err)
		}
	})
}
