package publish

import (
	"testing"

	"github.com/plugctl/plugctl/index"
)

func TestTreePath(t *testing.T) {
	tests := []struct {
		ref  string
		want string
		ok   bool
	}{
		{"greeter_1.0.0_linux_amd64.tar.gz", "greeter_1.0.0_linux_amd64.tar.gz", true},
		{"dist/./g", "dist/g", true},
		{"a/../b", "b", true},
		{"../g", "", false},
		{"/srv/g", "", false},
		{"https://h/g", "", false},
		{"git::https://h/r.git//g?ref=v1", "", false},
		{"git@github.com:o/r.git", "", false},
		{"g?x=1", "", false},
		{"my%20file", "", false},
		{".hidden", "", false},
	}
	for _, tt := range tests {
		got, ok := treePath(tt.ref)
		if got != tt.want || ok != tt.ok {
			t.Errorf("treePath(%q) = %q, %v; want %q, %v", tt.ref, got, ok, tt.want, tt.ok)
		}
	}
}

func TestSelectEntries(t *testing.T) {
	const sum = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	a := index.Artifact{URL: "x", SHA256: sum}
	idx := &index.Index{APIVersion: index.APIVersion, Plugins: map[string]index.Plugin{
		"g": {Versions: map[string]map[string]index.Artifact{
			"1.0.0":      {"linux/amd64": a, "darwin/arm64": a},
			"1.1.0":      {"linux/amd64": a},
			"2.0.0-rc.1": {"darwin/arm64": a},
		}},
		"mac": {Versions: map[string]map[string]index.Artifact{"1.0.0": {"darwin/arm64": a}}},
	}}
	tests := []struct {
		name      string
		platforms []string
		latest    int
		want      map[string][]string // plugin → versions kept
		filtered  bool
	}{
		{"all", nil, 0, map[string][]string{"g": {"1.0.0", "1.1.0", "2.0.0-rc.1"}, "mac": {"1.0.0"}}, false},
		{"platform", []string{"linux/amd64"}, 0, map[string][]string{"g": {"1.0.0", "1.1.0"}}, true},
		{"latest", nil, 1, map[string][]string{"g": {"2.0.0-rc.1"}, "mac": {"1.0.0"}}, true},
		{"both", []string{"linux/amd64"}, 1, map[string][]string{"g": {"1.1.0"}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, filtered := selectEntries(idx, tt.platforms, tt.latest)
			if filtered != tt.filtered {
				t.Errorf("filtered = %v, want %v", filtered, tt.filtered)
			}
			if len(got.Plugins) != len(tt.want) {
				t.Fatalf("plugins %v, want %v", got.Names(), tt.want)
			}
			for name, vs := range tt.want {
				p := got.Plugins[name]
				if len(p.Versions) != len(vs) {
					t.Errorf("%s: %d versions, want %v", name, len(p.Versions), vs)
				}
				for _, v := range vs {
					if _, ok := p.Versions[v]; !ok {
						t.Errorf("%s: %s missing", name, v)
					}
				}
			}
		})
	}
}
