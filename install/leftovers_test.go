package install

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/plugctl/plugctl/store"
)

// A plugin may be called remove-x or index-x: its install stages are
// stages (removed once no live process holds their lock), not removal or
// index-update directories (removed only by doctor, by age).
func TestLeftoversOfPluginsNamedLikeTmpKinds(t *testing.T) {
	p, _ := store.New(t.TempDir())
	in := &Installer{Paths: p}
	tmp, err := p.EnsureTmp()
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(p.Locks(), 0o755)
	stages := []string{"remove-x@1.0.0.123", "index-y@2.0.0-rc.1.456"}
	fresh := []string{"remove-x.789", "index-default.012"} // a live removal and index update
	for _, d := range append(append([]string{}, stages...), fresh...) {
		if err := os.Mkdir(filepath.Join(tmp, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	removed := in.cleanLeftovers()
	if len(removed) != len(stages) {
		t.Errorf("cleanLeftovers removed %q, want %q", removed, stages)
	}
	for _, d := range stages {
		if _, err := os.Stat(filepath.Join(tmp, d)); err == nil {
			t.Errorf("stage %s of a killed install was kept", d)
		}
	}
	for _, d := range fresh {
		if _, err := os.Stat(filepath.Join(tmp, d)); err != nil {
			t.Errorf("fresh %s was removed: %v", d, err)
		}
	}
}
