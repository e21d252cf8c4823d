package install

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"testing"
)

// Removing a version removes what run/ holds for it (log, stdout, lock,
// keeper socket), and only for it; while a run record says the version was
// started, its files stay, for its process may still run.
func TestRemoveRemovesRunFiles(t *testing.T) {
	in, src, sum := testInstaller(t)
	ctx := context.Background()
	for _, v := range []string{"1.0.0", "2.0.0"} {
		if _, err := in.Install(ctx, Request{Name: "tool", Version: v, Source: src, SHA256: sum, Platform: "linux/amd64"}); err != nil {
			t.Fatal(err)
		}
	}
	home := in.Paths
	if err := os.MkdirAll(home.Run(), 0o700); err != nil {
		t.Fatal(err)
	}
	files := func(v string) []string {
		return []string{home.LogFile("tool", v), home.OutFile("tool", v), home.RunLockFile("tool", v), home.KeeperSocket("tool", v)}
	}
	for _, v := range []string{"1.0.0", "2.0.0"} {
		for _, f := range files(v) {
			if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	started := home.StartedFile("tool", "2.0.0")
	if err := os.WriteFile(started, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}

	if _, err := in.Remove(ctx, "tool", "1.0.0"); err != nil {
		t.Fatal(err)
	}
	for _, f := range files("1.0.0") {
		if _, err := os.Lstat(f); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s after remove: %v, want it gone", f, err)
		}
	}
	if _, err := in.Remove(ctx, "tool", "2.0.0"); err != nil {
		t.Fatal(err)
	}
	for _, f := range append(files("2.0.0"), started) {
		if _, err := os.Lstat(f); err != nil {
			t.Errorf("%s of a version with a run record: %v, want it kept", f, err)
		}
	}
}
