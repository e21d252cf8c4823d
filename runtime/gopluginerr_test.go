package runtime

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
)

// goPluginStartErr runs go-plugin's Client.Start on a shell command standing
// in for a plugin and returns the real error it gives.
func goPluginStartErr(t *testing.T, script string, timeout time.Duration) error {
	t.Helper()
	c := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  plugin.HandshakeConfig{ProtocolVersion: 1, MagicCookieKey: "PLUGCTL_TEST_COOKIE", MagicCookieValue: "x"},
		VersionedPlugins: map[int]plugin.PluginSet{1: {"p": placeholder{}}},
		Cmd:              exec.Command("sh", "-c", script),
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		StartTimeout:     timeout,
		SkipHostEnv:      true,
		Logger:           hclog.NewNullLogger(),
	})
	t.Cleanup(c.Kill)
	_, err := c.Start()
	if err == nil {
		t.Fatalf("go-plugin started %q", script)
	}
	return err
}

// Each string readGoPluginStart knows, produced by go-plugin itself where a
// shell command can make it do so deterministically.
func TestReadGoPluginStart(t *testing.T) {
	const long = time.Minute // a bound, not a wait: these fail at once
	for _, tc := range []struct {
		name   string
		script string
		want   goPluginStart
	}{
		{"unrecognized", "echo hello there; exec sleep 30", goPluginStart{kind: gpUnrecognized, line: "hello there"}},
		// The plugin's own line may quote another case's phrase: it stays
		// an unrecognized line.
		{"unrecognized quoting", "echo 'incompatible API version'; exec sleep 30", goPluginStart{kind: gpUnrecognized, line: "incompatible API version"}},
		{"incompatible", "echo '1|7|unix|/nonexistent/sock|grpc'; exec sleep 30", goPluginStart{kind: gpIncompatible, version: "7"}},
		{"unsupported", "echo '1|1|unix|/nonexistent/sock|carrier-pigeon'; exec sleep 30", goPluginStart{kind: gpUnsupported, protocol: "carrier-pigeon"}},
		{"bad cert", "echo '1|1|unix|/nonexistent/sock|grpc|" + strings.Repeat("A", 60) + "'; exec sleep 30", goPluginStart{kind: gpBadCert}},
	} {
		err := goPluginStartErr(t, tc.script, long)
		if got := readGoPluginStart(err.Error()); got != tc.want {
			t.Errorf("%s: go-plugin's %q read as %+v, want %+v", tc.name, err, got, tc.want)
		}
	}
	// Timeout: the stand-in says nothing within go-plugin's StartTimeout.
	err := goPluginStartErr(t, "exec sleep 30", 50*time.Millisecond)
	if got := readGoPluginStart(err.Error()); got.kind != gpTimeout {
		t.Errorf("timeout: go-plugin's %q read as %+v", err, got)
	}
}

// go-plugin reports a process that ended before its handshake line either
// as this or as an unrecognized empty line, whichever of its goroutines
// notices first, so the string cannot be produced on demand. It is pinned
// from go-plugin v1.8.0, client.go:833.
func TestReadGoPluginStartExited(t *testing.T) {
	if got := readGoPluginStart("plugin exited before we could connect"); got.kind != gpExited {
		t.Errorf("read as %+v", got)
	}
	if got := readGoPluginStart("some other failure"); got.kind != gpOther {
		t.Errorf("an unknown message read as %+v", got)
	}
}
