package fastpath

import (
	"path/filepath"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tt := range []struct {
		args                                  []string
		home, name, version, method, callArgs string
		why                                   string
	}{
		{args: []string{"call", "kv", "Get"}, name: "kv", method: "Get"},
		{args: []string{"call", "kv@1.2.0", "Get", `{"key": "a"}`}, name: "kv", version: "1.2.0", method: "Get", callArgs: `{"key": "a"}`},
		{args: []string{"call", "kv@v1.2.0", "Get"}, name: "kv", version: "1.2.0", method: "Get"},
		{args: []string{"--home", "/h", "call", "kv", "Get"}, home: "/h", name: "kv", method: "Get"},
		{args: []string{"--home=/h", "--home", "/i", "call", "kv", "Get"}, home: "/i", name: "kv", method: "Get"},
		// cobra reads "--home call" as a home named call.
		{args: []string{"--home", "call", "list"}, why: "not a plain call"},
		{args: []string{"call", "kv", "Get", "-"}, why: "a flag, or ARGS from stdin"},
		{args: []string{"call", "kv", "Get", "-1"}, why: "a flag, or ARGS from stdin"},
		{args: []string{"call", "kv", "Get", "{}", "--raw"}, why: "a flag, or ARGS from stdin"},
		{args: []string{"call", "kv", "-v", "Get"}, why: "a flag, or ARGS from stdin"},
		{args: []string{"-v", "call", "kv", "Get"}, why: "not a plain call"},
		{args: []string{"--home"}, why: "not a plain call"},
		{args: []string{"call", "kv"}, why: "not a plain call"},
		{args: []string{"call", "kv", "Get", "{}", "{}"}, why: "not a plain call"},
		{args: []string{"ps"}, why: "not a plain call"},
		{args: nil, why: "not a plain call"},
		{args: []string{"call", "KV", "Get"}, why: "not a plugin name"},
		{args: []string{"call", "kv@..", "Get"}, why: "not a plugin name"},
		// The v is stripped before the check: kv@v.. names no version.
		{args: []string{"call", "kv@v..", "Get"}, why: "not a plugin name"},
		{args: []string{"call", "kv@v.", "Get"}, why: "not a plugin name"},
		{args: []string{"call", "kv@v", "Get"}, why: "not a plugin name"},
		{args: []string{"call", "kv@", "Get"}, why: "not a plugin name"},
		{args: []string{"call", "kv@1/2", "Get"}, why: "not a plugin name"},
		{args: []string{"call", "../kv", "Get"}, why: "not a plugin name"},
	} {
		c, why := parse(tt.args)
		if why != tt.why {
			t.Errorf("parse(%q): why %q, want %q", tt.args, why, tt.why)
			continue
		}
		if why != "" {
			continue
		}
		if c.home != tt.home || c.name != tt.name || c.version != tt.version || c.method != tt.method || string(c.args) != tt.callArgs {
			t.Errorf("parse(%q) = %+v", tt.args, c)
		}
	}
}

// clean must accept exactly the absolute paths that filepath.Abs (store.New)
// leaves as they are.
func TestClean(t *testing.T) {
	for _, p := range []string{"/", "/h", "/home/u/.plugins", "/a/b/", "/a//b", "/a/./b", "/a/../b", "/a/.", "/a/..", "a", "", "./a", "/..", "/.", "/a/.b", "/a/..b", "/a/b.."} {
		abs, _ := filepath.Abs(p)
		if got, want := clean(p), p != "" && abs == p; got != want {
			t.Errorf("clean(%q) = %v, want %v (filepath.Abs gives %q)", p, got, want, abs)
		}
	}
}
