//go:build unix

package regfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// A FIFO (no writer), a device, a directory and a socket are refused at
// once; a regular file, also through a symbolic link, is read.
func TestOpenRefusesWhatIsNotARegularFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	reg := filepath.Join(dir, "reg")
	os.WriteFile(reg, []byte("hello"), 0o644)
	link := filepath.Join(dir, "link")
	os.Symlink(reg, link)
	fifoLink := filepath.Join(dir, "fifolink")
	os.Symlink(fifo, fifoLink)

	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, p := range []string{fifo, fifoLink, "/dev/null", "/dev/zero", dir} {
			if f, err := Open(p); !errors.Is(err, ErrNotRegular) {
				t.Errorf("Open(%s) = %v, want ErrNotRegular", p, err)
				if f != nil {
					f.Close()
				}
			}
			if _, err := ReadFile(p, 100); !errors.Is(err, ErrNotRegular) {
				t.Errorf("ReadFile(%s) = %v, want ErrNotRegular", p, err)
			}
		}
		for _, p := range []string{reg, link} {
			f, err := Open(p)
			if err != nil {
				t.Errorf("Open(%s): %v", p, err)
				continue
			}
			b, _ := io.ReadAll(f)
			f.Close()
			if string(b) != "hello" {
				t.Errorf("Open(%s) read %q", p, b)
			}
			if b, err := ReadFile(p, 5); err != nil || string(b) != "hello" {
				t.Errorf("ReadFile(%s, 5) = %q, %v", p, b, err)
			}
			if _, err := ReadFile(p, 4); !errors.Is(err, ErrTooLarge) {
				t.Errorf("ReadFile(%s, 4) = %v, want ErrTooLarge", p, err)
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("opening a FIFO blocked")
	}
	_, err := Open(fifo)
	if want := fifo + " is a named pipe (FIFO), not a regular file"; err == nil || err.Error() != want {
		t.Errorf("error = %v, want %q", err, want)
	}
}
