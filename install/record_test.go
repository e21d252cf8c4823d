package install

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/plugctl/plugctl/verify"
)

// Install hashes the executable once and leaves the identity record that
// the first launch checks, so that launch does not hash it again; the
// record survives the rename into the store.
func TestInstallWritesIdentityRecord(t *testing.T) {
	in, src, sum := testInstaller(t)
	p := in.Paths
	res, err := in.Install(context.Background(), Request{Name: "tool", Version: "1.0.0", Source: src, SHA256: sum, Platform: "linux/amd64"})
	if err != nil {
		t.Fatal(err)
	}
	vdir := p.VersionDir("tool", "1.0.0")
	b, err := os.ReadFile(filepath.Join(vdir, verify.RecordFile))
	if err != nil {
		t.Fatalf("no identity record after install: %v", err)
	}
	var rec struct {
		Ino    uint64 `json:"ino"`
		SHA256 string `json:"sha256"`
	}
	if err := json.Unmarshal(b, &rec); err != nil || rec.SHA256 != res.Receipt.BinSHA256 || rec.Ino == 0 {
		t.Fatalf("record %s: want the receipt's binSha256 %s and an inode (%v)", b, res.Receipt.BinSHA256, err)
	}
	exe := filepath.Join(vdir, "pkg", filepath.FromSlash(res.Receipt.Bin))
	fi, err := os.Stat(exe)
	if err != nil {
		t.Fatal(err)
	}
	if got := statIno(fi); got != rec.Ino {
		t.Fatalf("record's inode %d, the installed executable's %d", rec.Ino, got)
	}
	// The record is honoured: a check with the right hash passes and keeps
	// it; with a wrong one it fails and removes it.
	if err := verify.CheckExecutable(exe, res.Receipt.BinSHA256, filepath.Join(vdir, verify.RecordFile)); err != nil {
		t.Fatal(err)
	}
	if err := verify.CheckExecutable(exe, "00", filepath.Join(vdir, verify.RecordFile)); err == nil {
		t.Fatal("a wrong hash passed")
	}
}
