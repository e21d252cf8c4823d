//go:build unix

package store

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/plugctl/plugctl/internal/regfile"
)

// A receipt, current pointer, config.yaml or lock file that is a FIFO, a device or a
// huge file must not hang a command or exhaust its memory.
func TestReadFileMaxBadFiles(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, make([]byte, 2000), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFileMax(big, 1999); !errors.Is(err, ErrTooLarge) {
		t.Errorf("ReadFileMax(2000 bytes, 1999) = %v, want ErrTooLarge", err)
	}
	if b, err := ReadFileMax(big, 2000); err != nil || len(b) != 2000 {
		t.Errorf("ReadFileMax(2000 bytes, 2000) = %d bytes, %v", len(b), err)
	}
	if _, err := ReadFileMax("/dev/zero", 4096); !errors.Is(err, regfile.ErrNotRegular) {
		t.Errorf("ReadFileMax(/dev/zero) = %v, want ErrNotRegular", err)
	}

	p, _ := New(t.TempDir())
	os.MkdirAll(p.VersionDir("g", "1.0.0"), 0o755)
	if err := syscall.Mkfifo(p.ReceiptFile("g", "1.0.0"), 0o644); err != nil {
		t.Skip("no FIFOs here:", err)
	}
	if err := syscall.Mkfifo(p.CurrentFile("g"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(p.Config(), 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if _, err := p.ReadReceipt("g", "1.0.0"); !errors.Is(err, ErrNotInstalled) || !errors.Is(err, ErrBadReceipt) {
			t.Errorf("ReadReceipt(FIFO) = %v, want ErrNotInstalled and ErrBadReceipt", err)
		}
		if v, _ := p.Active("g"); v != "" {
			t.Errorf("Active(FIFO) = %q", v)
		}
		if rs, _ := p.Versions("g"); len(rs) != 0 {
			t.Errorf("Versions = %d receipts, want none", len(rs))
		}
		// Refused, not read as an empty configuration.
		if _, err := LoadConfig(p); !errors.Is(err, regfile.ErrNotRegular) {
			t.Errorf("LoadConfig(FIFO) = %v, want ErrNotRegular", err)
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("reading a FIFO in the store blocked")
	}
}
