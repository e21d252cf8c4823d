package cmd

import (
	"io"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/plugctl/plugctl/store"
)

// The table of commands that Run builds one of must name every command of
// the tree, with its aliases.
func TestCommandNames(t *testing.T) {
	root := NewRootCmd(&Global{IO: IOStreams{Out: io.Discard, ErrOut: io.Discard}})
	var got [][]string
	for _, c := range root.Commands() {
		got = append(got, append([]string{c.Name()}, c.Aliases...))
	}
	var want [][]string
	for _, c := range commands {
		want = append(want, c.names)
	}
	byName := func(a, b []string) int { return strings.Compare(a[0], b[0]) }
	slices.SortFunc(got, byName)
	slices.SortFunc(want, byName)
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("commands table out of step with the tree:\n got %q\nwant %q", got, want)
	}
}

func TestCommandIn(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"call", "hello", "Greet"}, "call"},
		{[]string{"--home", "call", "list"}, "list"},
		{[]string{"--home=/h", "-q", "rm", "x"}, "rm"},
		{[]string{"-o", "json", "ps"}, "ps"},
		{[]string{"-ojson", "ps"}, "ps"},
		{[]string{"-qo", "json", "list"}, "list"},
		{[]string{"-vq", "--timeout", "5s", "--log-level", "debug", "--offline", "--inherit-env", "start", "a"}, "start"},
		{[]string{"--verbose=false", "health"}, "health"},
		{[]string{"--help"}, ""},
		{[]string{"help", "call"}, ""},
		{[]string{"completion", "bash"}, ""},
		{[]string{"__complete", "call", ""}, ""},
		{[]string{"cal", "x"}, ""},
		{[]string{"-x", "call"}, ""},
		{[]string{"--", "call"}, ""},
		{[]string{"--home"}, ""},
		{nil, ""},
	} {
		if got := commandIn(tc.args); got != tc.want {
			t.Errorf("commandIn(%q) = %q, want %q", tc.args, got, tc.want)
		}
	}
}

func TestPluginSettings(t *testing.T) {
	p, err := store.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		config  string // "" for no config.yaml
		want    []string
		wantErr bool
	}{
		{"", nil, false},
		{"indexes:\n- name: main\n  source: https://example.invalid/index.yaml\n", nil, false},
		{"plugins:\n  kv:\n    env: [A, B=1]\n", []string{"A", "B=1"}, false},
		{"Plugins:\n  kv:\n    env: [C]\n", []string{"C"}, false},
		{"\"plu\\x67ins\":\n  kv:\n    env: [D]\n", []string{"D"}, false},
		{"plugins:\n  other:\n    env: [E]\n", nil, false},
		{"plugins :\n  kv: {env: [F]}\n", []string{"F"}, false},
		{"{\"plugins\": {\"kv\": {\"env\": [\"G\"]}}}", []string{"G"}, false},
		{"x: &k plugins\n*k : {kv: {env: [H]}}\n", []string{"H"}, false},
		{"? plugins # a complex key\n: {kv: {env: [I]}}\n", []string{"I"}, false},
		// A broken config.yaml is reported, whatever part of it is broken.
		{"indexes: [unclosed\n", nil, true},
		{"plugins: [unclosed\n", nil, true},
	} {
		if tc.config == "" {
			os.Remove(p.Config())
		} else if err := os.WriteFile(p.Config(), []byte(tc.config), 0o644); err != nil {
			t.Fatal(err)
		}
		var got store.PluginSettings
		cfg, err := store.LoadConfig(p)
		if err == nil {
			got = cfg.Plugins["kv"]
		}
		if (err != nil) != tc.wantErr || !slices.Equal(got.Env, tc.want) {
			t.Errorf("config %q: got %q, %v; want %q, error %v", tc.config, got.Env, err, tc.want, tc.wantErr)
		}
	}
}

// TestHelpStandsAlone: the binary ships without README.md, so no help text
// may send a user there.
func TestHelpStandsAlone(t *testing.T) {
	root := NewRootCmd(&Global{IO: IOStreams{Out: io.Discard, ErrOut: io.Discard}})
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, s := range []string{c.Short, c.Long, c.Example} {
			if strings.Contains(s, "README") {
				t.Errorf("help of %q points at README: %q", c.CommandPath(), s)
			}
		}
		c.Flags().VisitAll(func(f *pflag.Flag) {
			if strings.Contains(f.Usage, "README") {
				t.Errorf("flag --%s of %q points at README", f.Name, c.CommandPath())
			}
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}
