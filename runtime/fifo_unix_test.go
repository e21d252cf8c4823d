//go:build unix

package runtime

import (
	"context"
	"errors"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/plugctl/plugctl/internal/regfile"
)

// --protoset and --proto files that are FIFOs are refused at once, not
// waited on.
func TestSchemaFilesFIFORefused(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"s.protoset", "s.proto"} {
		if err := syscall.Mkfifo(filepath.Join(dir, n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if _, err := readProtoset(filepath.Join(dir, "s.protoset"), ""); !errors.Is(err, regfile.ErrNotRegular) {
			t.Errorf("readProtoset(FIFO) = %v, want ErrNotRegular", err)
		}
		if _, err := compile(context.Background(), []string{dir}, []string{"s.proto"}); !errors.Is(err, regfile.ErrNotRegular) {
			t.Errorf("compile(FIFO .proto) = %v, want ErrNotRegular", err)
		}
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("reading a FIFO schema file blocked")
	}
}
