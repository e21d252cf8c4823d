//go:build unix

package runtime

import (
	"errors"
	"os"
	"path/filepath"
	goruntime "runtime"
	"syscall"
	"testing"
	"time"
)

func TestStartTextBusy(t *testing.T) {
	n := 0
	err := startTextBusy(func() error {
		n++
		if n < 3 {
			return &os.PathError{Op: "fork/exec", Path: "x", Err: syscall.ETXTBSY}
		}
		return nil
	}, time.Minute)
	if err != nil || n != 3 {
		t.Errorf("busy twice then started: err %v after %d tries, want nil after 3", err, n)
	}
	// Another error is returned at once.
	n = 0
	err = startTextBusy(func() error { n++; return syscall.ENOENT }, time.Minute)
	if !errors.Is(err, syscall.ENOENT) || n != 1 {
		t.Errorf("ENOENT: err %v after %d tries, want ENOENT after 1", err, n)
	}
	// A file that stays busy gives the error once the wait is over.
	start := time.Now()
	err = startTextBusy(func() error { return syscall.ETXTBSY }, 50*time.Millisecond)
	if !errors.Is(err, syscall.ETXTBSY) {
		t.Errorf("always busy: err %v, want ETXTBSY", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("always busy: gave up after %v", d)
	}
}

// A plugin whose executable another descriptor still holds open for
// writing (as a concurrent fork's child holds a copy of one for a moment)
// starts once the descriptor is closed, instead of failing with "text file
// busy".
func TestLaunchWaitsForTextFileBusy(t *testing.T) {
	if goruntime.GOOS != "linux" {
		t.Skip("ETXTBSY on exec of a file open for writing is Linux's")
	}
	dir := t.TempDir()
	exe := filepath.Join(dir, "plugin")
	copyFile(t, goodBin, exe)
	w, err := os.OpenFile(exe, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	spec := specFor(t, goodBin)
	spec.Exe = exe
	opt, _ := optsFor(t)
	go func() {
		time.Sleep(300 * time.Millisecond)
		w.Close()
	}()
	p := launch(t, ctxT(t, 30*time.Second), spec, opt)
	if p.Protocol() != ProtocolGRPC {
		t.Errorf("protocol %q", p.Protocol())
	}
}
