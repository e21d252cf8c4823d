package store

import (
	"path/filepath"
	"strings"
	"testing"
)

// The paths built by hand are filepath.Join's for a clean home and valid
// names, which is all store and runtime give them.
func TestPathsAreFilepathJoin(t *testing.T) {
	for _, home := range []string{"/", "/h", "/home/u/.plugins"} {
		for _, tc := range []struct{ got, want string }{
			{PluginDir(home, "kv"), filepath.Join(home, "plugins", "kv")},
			{CurrentFile(home, "kv"), filepath.Join(home, "plugins", "kv", "current")},
			{Run(home), filepath.Join(home, "run")},
			{KeeperSocket(home, "kv", "1.0.0"), filepath.Join(home, "run", "kv@1.0.0.sock")},
			{StartedFile(home, "kv", "1.0.0"), filepath.Join(home, "run", "kv@1.0.0.json")},
			{LogFile(home, "kv", "1.0.0"), filepath.Join(home, "run", "kv@1.0.0.log")},
			{OutFile(home, "kv", "1.0.0"), filepath.Join(home, "run", "kv@1.0.0.out")},
			{LockFile(home, "kv", "1.0.0"), filepath.Join(home, "run", "kv@1.0.0.lock")},
		} {
			if tc.got != tc.want {
				t.Errorf("home %q: %q, want %q", home, tc.got, tc.want)
			}
		}
	}
	if got := KeeperSocket("/"+strings.Repeat("d", 100), "kv", "1.0.0"); got != "" {
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

// TestProtocolChanges: every handshake setting is compared, defaults
// applied first make an unset field equal its default.
func TestProtocolChanges(t *testing.T) {
	a := Protocol{}.WithDefaults("p")
	if c := a.Changes(Protocol{Dispense: "p"}.WithDefaults("x")); len(c) != 0 {
		t.Errorf("same protocol after defaults: %v", c)
	}
	b := Protocol{Kind: KindGRPC, Versions: ProtocolVersions{2}, CookieKey: "K", CookieValue: "V", Dispense: "d", MTLS: MTLSTrue}.WithDefaults("p")
	var fields []string
	for _, c := range a.Changes(b) {
		fields = append(fields, c.Field)
	}
	if got := strings.Join(fields, " "); got != "kind version cookieKey cookieValue dispense mtls" {
		t.Errorf("changed fields %q", got)
	}
}
