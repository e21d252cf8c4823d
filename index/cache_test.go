package index

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/plugctl/plugctl/store"
)

// LoadPluginMatching must resolve exactly as Match on the whole entry does.
func TestLoadPluginMatchingAgreesWithMatch(t *testing.T) {
	p, _ := store.New(t.TempDir())
	full := plugin("1.0.0", "1.2.0", "1.10.0", "2.0.0-rc.1", "2.0.0-beta.2", "3.0.0 darwin/arm64", "0.9.0", "1.11.0 darwin/arm64")
	full.Description = "d"
	idx := &Index{APIVersion: APIVersion, Plugins: map[string]Plugin{"p": full}}
	dir := p.IndexDir("main")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := writeCache(dir, idx, Meta{Name: "main", Plugins: idx.Names()}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"", "^1.2", "~1.2.0", "1.0.0", "<1", ">=2.0.0-0", "2.0.0-beta.2", ">=1.5", "^3", "^4", ">1.0.0 <1.2.0", "^1.11"} {
		for _, plat := range []string{"linux/amd64", "darwin/arm64", "plan9/mips"} {
			wantV, wantA, wantErr := Match("p", full, c, plat)
			sub, ok, err := LoadPluginMatching(p, "main", "p", c, plat)
			if err != nil || !ok {
				t.Fatalf("LoadPluginMatching(%q, %s) = %v, %v", c, plat, ok, err)
			}
			if sub.Description != "d" {
				t.Errorf("header lost: %+v", sub)
			}
			gotV, gotA, gotErr := Match("p", sub, c, plat)
			if gotV != wantV || gotA != wantA || (gotErr == nil) != (wantErr == nil) {
				t.Errorf("%q on %s: subset gives %q %v %v, whole gives %q %v %v", c, plat, gotV, gotA, gotErr, wantV, wantA, wantErr)
			}
			var nf1, nf2 *NotFoundError
			if errors.As(wantErr, &nf1) && errors.As(gotErr, &nf2) && nf1.What != nf2.What {
				t.Errorf("%q on %s: error kind %s, want %s", c, plat, nf2.What, nf1.What)
			}
		}
	}
	if _, ok, err := LoadPluginMatching(p, "main", "absent", "", "linux/amd64"); ok || err != nil {
		t.Errorf("absent plugin: %v %v", ok, err)
	}
	os.WriteFile(filepath.Join(dir, "plugins", "p.lines"), []byte("{}\nnot a line\n"), 0o644)
	var ce *CacheError
	if _, _, err := LoadPluginMatching(p, "main", "p", "", "linux/amd64"); !errors.As(err, &ce) || ce.Index != "main" {
		t.Errorf("corrupt cache: %v, want a *CacheError naming index main", err)
	}
}
