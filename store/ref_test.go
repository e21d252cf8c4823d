package store

import (
	"errors"
	"strings"
	"testing"
)

func TestParseRef(t *testing.T) {
	for _, tt := range []struct {
		in          string
		needVersion bool
		name, ver   string
		wantErr     error // nil: success
	}{
		{"greeter", false, "greeter", "", nil},
		{"greeter@1.2.3", false, "greeter", "1.2.3", nil},
		{"greeter@v1.2.3", false, "greeter", "1.2.3", nil},
		{"greeter@1.2.3-rc.1+build.5", true, "greeter", "1.2.3-rc.1+build.5", nil},
		{"greeter@1.2.3", true, "greeter", "1.2.3", nil},
		{"greeter", true, "", "", ErrBadRef},
		{"greeter@", false, "", "", ErrBadRef},
		{"greeter@v", false, "", "", ErrBadRef},
		{"greeter@v..", false, "", "", ErrBadRef},
		{"greeter@..", false, "", "", ErrBadRef},
		{"greeter@.", false, "", "", ErrBadRef},
		{"greeter@../x", false, "", "", ErrBadRef},
		{"greeter@v../../x", false, "", "", ErrBadRef},
		{"greeter@1.2", false, "", "", ErrBadRef},
		{"greeter@1", false, "", "", ErrBadRef},
		{"greeter@01.2.3", false, "", "", ErrBadRef},
		{"greeter@1.2.3@4.5.6", false, "", "", ErrBadRef},
		{"greeter@latest", false, "", "", ErrBadRef},
		{"greeter@^1.2", false, "", "", ErrBadRef},
		{"greeter@vv1.2.3", false, "", "", ErrBadRef},
		{"greeter@1.2.3/x", false, "", "", ErrBadRef},
		{"@1.2.3", false, "", "", ErrInvalidName},
		{"Greeter@1.2.3", false, "", "", ErrInvalidName},
		{"../x@1.2.3", false, "", "", ErrInvalidName},
		{"", false, "", "", ErrInvalidName},
	} {
		name, ver, err := ParseRef(tt.in, tt.needVersion)
		if tt.wantErr != nil {
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("ParseRef(%q, %v) = %q, %q, %v; want an error wrapping %v", tt.in, tt.needVersion, name, ver, err, tt.wantErr)
			}
			continue
		}
		if err != nil || name != tt.name || ver != tt.ver {
			t.Errorf("ParseRef(%q, %v) = %q, %q, %v; want %q, %q", tt.in, tt.needVersion, name, ver, err, tt.name, tt.ver)
		}
	}
}

func TestSplitAt(t *testing.T) {
	for _, tt := range []struct {
		in, name, rest string
		at             bool
	}{
		{"kv", "kv", "", false},
		{"kv@", "kv", "", true},
		{"kv@^1.2", "kv", "^1.2", true},
		{"team/kv@>=1, <2", "team/kv", ">=1, <2", true},
		{"kv@1@2", "kv", "1@2", true},
	} {
		n, r, at := SplitAt(tt.in)
		if n != tt.name || r != tt.rest || at != tt.at {
			t.Errorf("SplitAt(%q) = %q, %q, %v; want %q, %q, %v", tt.in, n, r, at, tt.name, tt.rest, tt.at)
		}
	}
}

// Whatever ParseRef accepts names one directory under a plugin's, and
// an '@' always yields a version: never the whole plugin.
func FuzzParseRef(f *testing.F) {
	for _, s := range []string{"g", "g@", "g@v", "g@v..", "g@1.2.3", "g@v1.2.3-rc.1", "g@../x", "g@1.2.3+a/b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		name, ver, err := ParseRef(s, false)
		if err != nil {
			return
		}
		if ValidName(name) != nil {
			t.Fatalf("ParseRef(%q) accepted name %q", s, name)
		}
		if strings.Contains(s, "@") && ver == "" {
			t.Fatalf("ParseRef(%q): an '@' but no version", s)
		}
		if ver != "" && (strings.ContainsAny(ver, `/\`) || ver == "." || ver == ".." || strings.HasPrefix(ver, "v")) {
			t.Fatalf("ParseRef(%q) = version %q", s, ver)
		}
	})
}
