package runtime

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/plugctl/plugctl/store"
)

// A record whose socket directory is not one a start makes (damaged or
// edited) does not have plugctl delete that directory; one a start made is
// removed.
func TestRemoveRunFilesKeepsForeignSocketDir(t *testing.T) {
	home := store.Paths{Home: t.TempDir()}
	if err := os.MkdirAll(home.Run(), 0o700); err != nil {
		t.Fatal(err)
	}
	foreign := t.TempDir()
	keep := filepath.Join(foreign, "data")
	if err := os.WriteFile(keep, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	removeRunFiles(home, &StartedPlugin{Name: "kv", Version: "1.0.0", SocketDir: foreign})
	if _, err := os.Stat(keep); err != nil {
		t.Errorf("a record naming %s as its socket directory had it deleted: %v", foreign, err)
	}
	own, err := os.MkdirTemp(home.Run(), "s")
	if err != nil {
		t.Fatal(err)
	}
	removeRunFiles(home, &StartedPlugin{Name: "kv", Version: "1.0.0", SocketDir: own})
	if _, err := os.Stat(own); !os.IsNotExist(err) {
		t.Errorf("the start's own socket directory %s is left: %v", own, err)
	}
}
