//go:build unix

package fetch

import (
	"context"
	"errors"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/plugctl/plugctl/internal/regfile"
)

// A FIFO given as a file, by path or file:// URL, is refused at once:
// opening it for reading would wait for a writer, beyond the reach of the
// context.
func TestFIFORefused(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "art")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	f := New(Options{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i, addr := range []string{fifo, "file://" + fifo} {
			_, err := f.File(context.Background(), addr, filepath.Join(t.TempDir(), "dst"))
			if !errors.Is(err, regfile.ErrNotRegular) {
				t.Errorf("File(%s) = %v, want ErrNotRegular (%d)", addr, err, i)
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("fetching a FIFO blocked")
	}
}
