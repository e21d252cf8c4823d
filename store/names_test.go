package store

import (
	"path/filepath"
	"strings"
	"testing"
)

// The files of run/ are NAME@VERSION with one extension each, which
// runtime's readers of run/ (stale starts, keepers) rely on.
func TestRunFiles(t *testing.T) {
	p := Paths{Home: "/home/u/.plugins"}
	run := filepath.Join(p.Home, "run")
	for _, tc := range []struct{ got, want string }{
		{p.Run(), run},
		{p.KeeperSocket("kv", "1.0.0"), filepath.Join(run, "kv@1.0.0.sock")},
		{p.StartedFile("kv", "1.0.0"), filepath.Join(run, "kv@1.0.0.json")},
		{p.LogFile("kv", "1.0.0"), filepath.Join(run, "kv@1.0.0.log")},
		{p.OutFile("kv", "1.0.0"), filepath.Join(run, "kv@1.0.0.out")},
		{p.RunLockFile("kv", "1.0.0"), filepath.Join(run, "kv@1.0.0.lock")},
		{p.SpawnFile("kv", "1.0.0"), filepath.Join(run, "kv@1.0.0.spawn")},
	} {
		if tc.got != tc.want {
			t.Errorf("%q, want %q", tc.got, tc.want)
		}
	}
	if got := (Paths{Home: "/" + strings.Repeat("d", 100)}).KeeperSocket("kv", "1.0.0"); got != "" {
		t.Errorf("a socket path over the limit: %q, want none", got)
	}
}

// TestSocketPathFits: the limit is macOS's 104-byte sun_path with its NUL,
// the smaller of the systems plugctl runs on.
func TestSocketPathFits(t *testing.T) {
	if !SocketPathFits("/" + strings.Repeat("d", 102)) {
		t.Error("a 103-byte path does not fit")
	}
	if SocketPathFits("/" + strings.Repeat("d", 103)) {
		t.Error("a 104-byte path fits")
	}
}
