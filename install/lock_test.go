package install

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/plugctl/plugctl/store"
)

func TestReadLock(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadLock(filepath.Join(dir, LockFileName)); !errors.Is(err, ErrNoLock) {
		t.Errorf("missing lock: %v, want ErrNoLock", err)
	}
	good := filepath.Join(dir, "good.lock")
	l := &Lock{Schema: LockSchema, Plugins: map[string]LockedPlugin{"greeter": {Version: "1.2.0"}}}
	if err := l.Write(good); err != nil {
		t.Fatal(err)
	}
	if got, err := ReadLock(good); err != nil || got.Plugins["greeter"].Version != "1.2.0" {
		t.Errorf("ReadLock(good) = %+v, %v", got, err)
	}
	// A lock file comes with the working directory: an oversized one is
	// refused before it is read into memory.
	big := filepath.Join(dir, "big.lock")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(MaxLockBytes + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := ReadLock(big); !errors.Is(err, store.ErrTooLarge) {
		t.Errorf("ReadLock(oversized) = %v, want store.ErrTooLarge", err)
	}
}

// A version names directories in the store: a hostile plugctl.lock with
// version "../../x" must not make sync replace a directory outside it.
func TestHostileLockVersion(t *testing.T) {
	dir := t.TempDir()
	lock := filepath.Join(dir, LockFileName)
	body := `{"lockVersion": 1, "plugins": {"g": {"version": "../../../victim", "platforms": {}}}}`
	if err := os.WriteFile(lock, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadLock(lock); !errors.Is(err, ErrBadVersion) {
		t.Errorf("ReadLock(version ../../../victim) = %v, want ErrBadVersion", err)
	}

	p, _ := store.New(filepath.Join(dir, "home"))
	victim := filepath.Join(dir, "victim")
	os.MkdirAll(victim, 0o755)
	os.WriteFile(filepath.Join(victim, "keep"), []byte("x"), 0o644)
	in := &Installer{Paths: p}
	for _, v := range []string{"../../../victim", "1.0", "", "1.0.0/../../x"} {
		_, err := in.Install(context.Background(), Request{Name: "g", Version: v, Source: "/nonexistent", SHA256: "00"})
		if !errors.Is(err, ErrBadVersion) {
			t.Errorf("Install(version %q) = %v, want ErrBadVersion", v, err)
		}
	}
	if _, err := os.Stat(filepath.Join(victim, "keep")); err != nil {
		t.Errorf("the directory outside the store was touched: %v", err)
	}
}
