package index

import (
	"errors"
	"strings"
	"testing"
)

const sum = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

func plugin(versions ...string) Plugin {
	p := Plugin{Versions: map[string]map[string]Artifact{}}
	for _, v := range versions {
		plat := "linux/amd64"
		if name, rest, ok := strings.Cut(v, " "); ok {
			v, plat = name, rest
		}
		if p.Versions[v] == nil {
			p.Versions[v] = map[string]Artifact{}
		}
		p.Versions[v][plat] = Artifact{URL: "x-" + v, SHA256: sum}
	}
	return p
}

func TestMatch(t *testing.T) {
	p := plugin("1.0.0", "1.2.0", "1.10.0", "2.0.0-rc.1", "2.0.0-beta.2", "3.0.0 darwin/arm64", "0.9.0")
	tests := []struct {
		constraint string
		want       string
		wantErr    string
	}{
		{"", "1.10.0", ""},                            // newest release with an artifact here; 3.0.0 is darwin only
		{"^1.2", "1.10.0", ""},                        // semver order, not string order
		{"~1.2.0", "1.2.0", ""},                       // patch range
		{"1.0.0", "1.0.0", ""},                        // exact
		{"<1", "0.9.0", ""},                           // below
		{">=2.0.0-0", "2.0.0-rc.1", ""},               // prerelease asked for: rc.1 > beta.2
		{"2.0.0-beta.2", "2.0.0-beta.2", ""},          // exact prerelease
		{">=1.5", "1.10.0", ""},                       // prereleases skipped when not named
		{"^3", "", "has no artifact for linux/amd64"}, // matches, wrong platform
		{"^4", "", "no version of p matches ^4"},
		{">1.0.0 <1.2.0", "", "no version of p matches"},
	}
	for _, tt := range tests {
		got, art, err := Match("p", p, tt.constraint, "linux/amd64")
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrNotFound) {
				t.Errorf("Match(%q) = %q, %v; want error %q wrapping ErrNotFound", tt.constraint, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want || art.URL != "x-"+tt.want {
			t.Errorf("Match(%q) = %q (%s), %v; want %q", tt.constraint, got, art.URL, err, tt.want)
		}
	}
	if _, _, err := Match("p", p, ">>1", "linux/amd64"); !errors.Is(err, ErrUsage) {
		t.Errorf("bad constraint: %v, want ErrUsage", err)
	}
}

func TestParseQuery(t *testing.T) {
	tests := []struct {
		in      string
		want    Query
		wantErr bool
	}{
		{"greeter", Query{Name: "greeter"}, false},
		{"greeter@^1.2", Query{Name: "greeter", Constraint: "^1.2"}, false},
		{"team/greeter@~1.4", Query{Index: "team", Name: "greeter", Constraint: "~1.4"}, false},
		{"my.plugin_x-1", Query{Name: "my.plugin_x-1"}, false},
		{"../etc", Query{}, true},
		{"a/b/c", Query{}, true},
		{"Greeter", Query{}, true},
		{"greeter@", Query{}, true},
		{"greeter@>>1", Query{}, true},
		{"", Query{}, true},
		{"-x", Query{}, true},
		{strings.Repeat("a", 65), Query{}, true},
	}
	for _, tt := range tests {
		got, err := ParseQuery(tt.in)
		if (err != nil) != tt.wantErr || (!tt.wantErr && got != tt.want) {
			t.Errorf("ParseQuery(%q) = %+v, %v", tt.in, got, err)
		}
		if err != nil && !errors.Is(err, ErrUsage) {
			t.Errorf("ParseQuery(%q): %v does not wrap ErrUsage", tt.in, err)
		}
	}
}

func TestParse(t *testing.T) {
	good := `apiVersion: plugctl/v1
version: 3
unknown: ignored
plugins:
  greeter:
    protocol: {kind: netrpc, version: [2, 3], mtls: true}
    versions:
      "1.0.0":
        linux/amd64: {url: g, sha256: "` + strings.ToUpper(sum) + `"}
`
	idx, err := Parse([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	p := idx.Plugins["greeter"]
	if p.Protocol.Kind != "netrpc" || len(p.Protocol.Versions) != 2 || p.Protocol.MTLS != "true" {
		t.Errorf("protocol = %+v", p.Protocol)
	}
	if got := p.Versions["1.0.0"]["linux/amd64"].SHA256; string(got) != sum {
		t.Errorf("sha256 not lower-cased: %s", got)
	}
	if _, err := ParseStrict([]byte(good)); err == nil || !strings.Contains(err.Error(), "unknown") {
		t.Errorf("strict parse accepted an unknown field: %v", err)
	}
	bad := map[string]string{
		"number hash":   "apiVersion: plugctl/v1\nplugins:\n  a:\n    versions:\n      \"1.0.0\":\n        linux/amd64: {url: a, sha256: 1234567890123456789012345678901234567890123456789012345678901234}\n",
		"short hash":    "apiVersion: plugctl/v1\nplugins:\n  a:\n    versions:\n      \"1.0.0\":\n        linux/amd64: {url: a, sha256: \"abc\"}\n",
		"bad version":   "apiVersion: plugctl/v1\nplugins:\n  a:\n    versions:\n      \"one\":\n        linux/amd64: {url: a, sha256: \"" + sum + "\"}\n",
		"bad platform":  "apiVersion: plugctl/v1\nplugins:\n  a:\n    versions:\n      \"1.0.0\":\n        linux: {url: a, sha256: \"" + sum + "\"}\n",
		"no url":        "apiVersion: plugctl/v1\nplugins:\n  a:\n    versions:\n      \"1.0.0\":\n        linux/amd64: {sha256: \"" + sum + "\"}\n",
		"bad name":      "apiVersion: plugctl/v1\nplugins:\n  A:\n    versions: {}\n",
		"bad kind":      "apiVersion: plugctl/v1\nplugins:\n  a:\n    protocol: {kind: soap}\n    versions: {}\n",
		"no apiVersion": "plugins: {}\n",
		"not yaml":      "plugins: [a: b: c\n",
		"json garbage":  "{\"apiVersion\": ",
	}
	for name, doc := range bad {
		if _, err := Parse([]byte(doc)); err == nil || !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: Parse = %v, want ErrMalformed", name, err)
		} else if strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error is not one line: %q", name, err)
		}
	}
}

func TestMarshalStableAndReadable(t *testing.T) {
	idx := &Index{APIVersion: APIVersion, Version: 7, Plugins: map[string]Plugin{}}
	for _, v := range []string{"1.10.0", "1.2.0", "0.1.0"} {
		if err := idx.Add(Publication{Name: "zeta", Version: v, Platform: "linux/amd64", URL: "z-" + v, SHA256: sum}, "Z", storeProto()); err != nil {
			t.Fatal(err)
		}
	}
	if err := idx.Add(Publication{Name: "alpha", Version: "1.0.0", Platform: "darwin/arm64", URL: "a", SHA256: "1234567890123456789012345678901234567890123456789012345678901234"}, "", storeProto()); err != nil {
		t.Fatal(err)
	}
	for _, asJSON := range []bool{false, true} {
		out := Marshal(idx, asJSON)
		back, err := Parse(out)
		if err != nil {
			t.Fatalf("json=%v: written index does not parse: %v\n%s", asJSON, err, out)
		}
		if string(Marshal(back, asJSON)) != string(out) {
			t.Errorf("json=%v: not stable across a round trip", asJSON)
		}
		s := string(out)
		if !(strings.Index(s, "alpha") < strings.Index(s, "zeta") &&
			strings.Index(s, `"0.1.0"`) < strings.Index(s, `"1.2.0"`) &&
			strings.Index(s, `"1.2.0"`) < strings.Index(s, `"1.10.0"`)) {
			t.Errorf("json=%v: not in name and semver order:\n%s", asJSON, s)
		}
		if !strings.Contains(s, `"1234567890123456789012345678901234567890123456789012345678901234"`) {
			t.Errorf("json=%v: all-digit hash not quoted:\n%s", asJSON, s)
		}
	}
}

func TestPlatformsFromName(t *testing.T) {
	tests := map[string]string{
		"greeter_1.2.0_linux_amd64.tar.gz":   "linux/amd64",
		"greeter_1.2.0_Darwin_arm64.zip":     "darwin/arm64",
		"greeter_1.2.0_darwin_all":           "darwin/amd64 darwin/arm64",
		"greeter_1.2.0_darwin_universal.tgz": "darwin/amd64 darwin/arm64",
		"greeter-1.2.0-linux-x86_64.tar.gz":  "linux/amd64",
		"greeter_windows_386.exe":            "windows/386",
		"greeter_1.2.0_checksums.txt":        "",
		"greeter.tar.gz":                     "",
	}
	for in, want := range tests {
		if got := strings.Join(PlatformsFromName(in), " "); got != want {
			t.Errorf("PlatformsFromName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCheckConstraint(t *testing.T) {
	for _, c := range []string{"^1", "~1.2", "1.x", ">= 1.2, < 2", ">=1.2 <2 || ^3", "1.2.3-rc.1", "*", "1.2 - 1.4", "v1.2.3", "=1.0.0", "!=1.0.0", "~>1.2"} {
		if _, err := CheckConstraint(c); err != nil {
			t.Errorf("CheckConstraint(%q) = %v, want nil", c, err)
		}
	}
	for _, c := range []string{"^x", "~x", "x", "X", ">=x", "1.2 || x", "latest", "^", "1.2.3.4", "^1 ||"} {
		if _, err := CheckConstraint(c); err == nil {
			t.Errorf("CheckConstraint(%q) = nil, want an error", c)
		}
	}
}
