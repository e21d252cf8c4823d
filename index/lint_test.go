package index

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestLint(t *testing.T) {
	const good = `apiVersion: plugctl/v1
plugins:
  greeter:
    versions:
      "1.0.0":
        linux/amd64: {url: "https://h/g", sha256: "` + sum + `"}
`
	tests := []struct {
		name string
		doc  string
		opts LintOptions
		want []string // "path: message" prefixes, in order
	}{
		{"good", good, LintOptions{}, nil},
		{"json", `{"apiVersion": "plugctl/v1", "plugins": {}}`, LintOptions{}, nil},
		{"unknown top-level field", good + "extra: 1\n", LintOptions{}, []string{"extra: unknown field"}},
		{"unquoted hash", strings.Replace(good, `"`+sum+`"`, strings.Repeat("1", 64), 1), LintOptions{},
			[]string{`plugins.greeter.versions."1.0.0".linux/amd64.sha256: is a number`}},
		{"float version key", strings.Replace(good, `"1.0.0"`, `1.10`, 1), LintOptions{},
			[]string{`plugins.greeter.versions."1.10": not a semantic version`}},
		{"duplicate plugin", good + "  greeter:\n    versions: {}\n", LintOptions{},
			[]string{"plugins.greeter: duplicate key (first at line 3)"}},
		{"missing apiVersion", "plugins: {}\n", LintOptions{}, []string{"apiVersion: missing"}},
		{"signed without version", good, LintOptions{Signed: true},
			[]string{"version: missing", "expires: missing"}},
		{"signed and expired", "apiVersion: plugctl/v1\nversion: 3\nexpires: 2020-01-01T00:00:00Z\nplugins: {}\n",
			LintOptions{Signed: true, Now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)},
			[]string{"expires: expired at 2020-01-01T00:00:00Z"}},
		{"protocol", strings.Replace(good, "    versions:", "    protocol: {kind: grpc, version: [1, 0], mtls: maybe, schema: {url: s}}\n    versions:", 1), LintOptions{},
			[]string{"plugins.greeter.protocol.version: want a handshake protocol version", "plugins.greeter.protocol.mtls: want auto, true or false", "plugins.greeter.protocol.schema.sha256: missing"}},
		{"bin climbs out", strings.Replace(good, `"}`, `", bin: ../x}`, 1), LintOptions{},
			[]string{`plugins.greeter.versions."1.0.0".linux/amd64.bin: "../x": want a relative path`}},
		{"not yaml", "a: [", LintOptions{}, []string{"not valid YAML or JSON"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := Lint([]byte(tt.doc), tt.opts)
			var got []string
			for _, p := range rep.Problems {
				got = append(got, p.String())
			}
			if len(got) != len(tt.want) {
				t.Fatalf("problems:\n%s\nwant %d:\n%s", strings.Join(got, "\n"), len(tt.want), strings.Join(tt.want, "\n"))
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tt.want[i]) {
					t.Errorf("problem %d: %q, want prefix %q", i, got[i], tt.want[i])
				}
			}
		})
	}
}

// Lint walks aliases, so anchors nested on anchors must not make a small
// file take minutes and millions of problems (Parse refuses the same file
// as excessive aliasing).
func TestLintAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("apiVersion: plugctl/v1\nx: &a {url: a, sha256: \"" + strings.Repeat("a", 64) + "\"}\n")
	const n = 300
	b.WriteString("y: &p {")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "linux/a%d: *a, ", i)
	}
	b.WriteString("}\nz: &v {")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "\"1.0.%d\": *p, ", i)
	}
	b.WriteString("}\nplugins: {")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "g%d: {versions: *v}, ", i)
	}
	b.WriteString("}\n")
	done := make(chan *LintReport)
	go func() { done <- Lint([]byte(b.String()), LintOptions{}) }()
	select {
	case rep := <-done:
		if len(rep.Problems) > 100000 || len(rep.Artifacts) > 100000 {
			t.Errorf("%d problems, %d artifacts: the walk was not bounded", len(rep.Problems), len(rep.Artifacts))
		}
		found := false
		for _, p := range rep.Problems {
			found = found || strings.Contains(p.Message, "excessive aliasing")
		}
		if !found {
			t.Errorf("no excessive-aliasing problem among %d", len(rep.Problems))
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Lint of an alias bomb did not finish")
	}
}
