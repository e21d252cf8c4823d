package cmd

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/plugctl/plugctl/index"
	"github.com/plugctl/plugctl/install"
	"github.com/plugctl/plugctl/profile"
	"github.com/plugctl/plugctl/store"
	"github.com/plugctl/plugctl/verify"
)

// TestClassifyMismatch: which hint a hash mismatch gets follows the error's
// kind, whatever its What says.
func TestClassifyMismatch(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		hint string
	}{
		{"installed file changed", &verify.MismatchError{What: "a@1.0.0 bin", Want: "aa", Got: "bb", Installed: true}, "plugctl reinstall"},
		// A What that starts like the installed case's is still a download.
		{"downloaded bytes", &verify.MismatchError{What: "executable a@1.0.0", Want: "aa", Got: "bb"}, "the index promised"},
		{"wrapped", fmt.Errorf("install: %w", &verify.MismatchError{What: "x", Want: "aa", Got: "bb", Installed: true}), "plugctl reinstall"},
	} {
		code, hint := classify(tc.err)
		if code != ExitIntegrity || !strings.Contains(hint, tc.hint) {
			t.Errorf("%s: classify = %d, %q; want %d and a hint with %q", tc.name, code, hint, ExitIntegrity, tc.hint)
		}
	}
	err := fromError(&verify.MismatchError{What: "executable a", Want: "aa", Got: "bb"})
	if _, hint := classify(err); !strings.Contains(hint, "--sha256") {
		t.Errorf("install --from mismatch: hint %q does not name --sha256", hint)
	}
}

// TestClassifyBadReceipt: a damaged receipt gets doctor's hint (which store
// no longer writes into its message), a version never installed list's.
func TestClassifyBadReceipt(t *testing.T) {
	p := store.Paths{Home: t.TempDir()}
	if err := os.MkdirAll(p.VersionDir("g", "1.0.0"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.ReceiptFile("g", "1.0.0"), []byte("{corrupt"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := p.ReadReceipt("g", "1.0.0")
	code, hint := classify(err)
	if code != ExitNotFound || !strings.Contains(hint, "plugctl doctor") || strings.Contains(err.Error(), "plugctl") {
		t.Errorf("corrupt receipt: %q classified %d, %q; want %d, a doctor hint, no advice in the message", err, code, hint, ExitNotFound)
	}
	_, err = p.ReadReceipt("g", "2.0.0")
	if code, hint := classify(err); code != ExitNotFound || !strings.Contains(hint, "plugctl list") {
		t.Errorf("missing version: %q classified %d, %q", err, code, hint)
	}
}

// TestClassifyIndexCache: the advice to fetch an index again is cmd's hint,
// naming the index, not part of index's message.
func TestClassifyIndexCache(t *testing.T) {
	err := fmt.Errorf("install a: %w", &index.CacheError{Index: "main", What: "cache of a corrupt"})
	code, hint := classify(err)
	if code != ExitError || hint != "run plugctl index update main to fetch it again" || strings.Contains(err.Error(), "plugctl") {
		t.Errorf("%q classified %d, %q", err, code, hint)
	}
	if strings.Contains(index.ErrNotCached.Error(), "plugctl") {
		t.Errorf("ErrNotCached holds advice: %q", index.ErrNotCached)
	}
	if code, hint := classify(fmt.Errorf("index main: %w", index.ErrNotCached)); code != ExitNotFound || !strings.Contains(hint, "plugctl index update") {
		t.Errorf("not cached: %d, %q", code, hint)
	}
}

// TestClassifyLockMismatch: a version installed from other bytes than the
// lock records gets remove-then-sync advice (reinstall would fetch the same
// bytes again), written by cmd.
func TestClassifyLockMismatch(t *testing.T) {
	err := &install.LockMismatchError{Name: "tool", Version: "1.0.0", Lock: "plugctl.lock", Installed: "aa", Locked: "bb"}
	code, hint := classify(err)
	if code != ExitIntegrity || !strings.Contains(hint, "plugctl remove tool@1.0.0, then plugctl sync") || strings.Contains(err.Error(), "plugctl remove") {
		t.Errorf("%q classified %d, %q", err, code, hint)
	}
}

// TestClassifyUnknownProfile: an index naming an unknown profile is a
// malformed index whose hint, not message, points at plugctl profiles.
func TestClassifyUnknownProfile(t *testing.T) {
	err := fmt.Errorf("%w: plugins.x.protocol.%w", index.ErrMalformed, &profile.UnknownError{Name: "bogus"})
	code, hint := classify(err)
	if code != ExitError || !strings.Contains(hint, "plugctl profiles") || strings.Contains(err.Error(), "plugctl") {
		t.Errorf("%q classified %d, %q", err, code, hint)
	}
}
