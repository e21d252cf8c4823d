package install

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plugctl/plugctl/store"
	"github.com/plugctl/plugctl/verify"
)

// A schema given with an install outside any index (install --from
// --proto/--protoset) goes into its lock entry, and an install from the
// entry in a fresh home keeps it again.
func TestLockCarriesSchema(t *testing.T) {
	ctx := context.Background()
	in, src, sum := testInstaller(t)
	set := []byte("a schema set")
	req := Request{Name: "tool", Version: "1.0.0", Source: src, SHA256: sum, Platform: "linux/amd64", SchemaSet: set}
	if _, err := in.Install(ctx, req); err != nil {
		t.Fatal(err)
	}
	lp := RequestEntry(req)
	setSum := schemaSum(set)
	if !bytes.Equal(lp.SchemaSet, set) || lp.Protocol.Schema == nil || lp.Protocol.Schema.SHA256 != setSum || lp.Protocol.Schema.URL != "" {
		t.Fatalf("RequestEntry = %+v, want the schema set and its sha256", lp)
	}
	lock := &Lock{Schema: LockSchema, Plugins: map[string]LockedPlugin{"tool": lp}}
	file := filepath.Join(t.TempDir(), LockFileName)
	if err := lock.Write(file); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(file); !strings.Contains(string(b), `"schemaSet": "`+base64.StdEncoding.EncodeToString(set)+`"`) {
		t.Errorf("lock file:\n%s\nwant the schema set in base64", b)
	}
	lock, err := ReadLock(file)
	if err != nil {
		t.Fatal(err)
	}

	// A fresh home: sync installs the version with its schema.
	fresh, _, _ := testInstaller(t)
	steps, _, err := fresh.SyncPlan(lock, file, "linux/amd64")
	if err != nil {
		t.Fatal(err)
	}
	res, err := fresh.Install(ctx, steps[0].Req)
	if err != nil {
		t.Fatal(err)
	}
	if s := res.Receipt.Protocol.Schema; s == nil || s.SHA256 != setSum || s.Path != SchemaFile {
		t.Errorf("synced receipt's schema = %+v, want sha256 %s kept in %s", s, setSum, SchemaFile)
	}
	kept := filepath.Join(fresh.Paths.VersionDir("tool", "1.0.0"), SchemaFile)
	if b, err := os.ReadFile(kept); err != nil || !bytes.Equal(b, set) {
		t.Errorf("kept schema = %q, %v; want the lock's", b, err)
	}
	if steps, drift, err := fresh.SyncPlan(lock, file, "linux/amd64"); err != nil || len(drift) != 0 || len(steps[0].Changed) != 0 || steps[0].Stale {
		t.Errorf("SyncPlan after sync: %+v, drift %q, %v; want nothing to do", steps, drift, err)
	}

	// The kept copy changed: a changed file for sync (--check exits 4,
	// sync installs the version again from the lock).
	if err := os.WriteFile(kept, []byte("changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	steps, _, err = fresh.SyncPlan(lock, file, "linux/amd64")
	if err != nil || len(steps[0].Changed) != 1 || steps[0].Changed[0] != kept {
		t.Fatalf("SyncPlan with a changed schema: %+v, %v; want %s changed", steps, err, kept)
	}
	if _, err := fresh.Replace(ctx, steps[0].Req); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(kept); !bytes.Equal(b, set) {
		t.Errorf("after sync, kept schema = %q, want the lock's", b)
	}

	// The lock's schema set is not the one its sha256 names: integrity.
	bad := lp
	bad.SchemaSet = []byte("another set")
	var mm *verify.MismatchError
	if _, err := bad.Request("tool", "linux/amd64"); !errors.As(err, &mm) {
		t.Errorf("Request with a changed schema set = %v, want a *verify.MismatchError", err)
	}

	// A lock entry naming a schema it does not carry, with no address:
	// a typed error, nothing installed.
	bare := lp
	bare.SchemaSet = nil
	breq, err := bare.Request("tool", "linux/amd64")
	if err != nil {
		t.Fatal(err)
	}
	empty, _, _ := testInstaller(t)
	var su *SchemaUnavailableError
	if _, err := empty.Install(ctx, breq); !errors.As(err, &su) || su.Name != "tool" || su.SHA256 != setSum {
		t.Errorf("Install from a lock entry without its schema = %v, want a *SchemaUnavailableError", err)
	}
	if vs, _ := empty.Paths.Versions("tool"); len(vs) != 0 {
		t.Errorf("a refused install left versions %v", vs)
	}
}

// sync --check compares the kept schema with the lock's: another one is a
// difference sync repairs; one the lock does not record (a lock written
// before entries carried schemas) is a difference sync leaves alone.
func TestSyncPlanSchema(t *testing.T) {
	ctx := context.Background()
	in, src, sum := testInstaller(t)
	req := Request{Name: "tool", Version: "1.0.0", Source: src, SHA256: sum, Platform: "linux/amd64", SchemaSet: []byte("installed set")}
	if _, err := in.Install(ctx, req); err != nil {
		t.Fatal(err)
	}
	other := req
	other.SchemaSet = []byte("locked set")
	none := req
	none.SchemaSet = nil
	for _, c := range []struct {
		name            string
		lp              LockedPlugin
		stale, unlocked bool
		drift           string
	}{
		{"another schema", RequestEntry(other), true, false, "tool@1.0.0: schema " + schemaSum(req.SchemaSet) + ", lock says " + schemaSum(other.SchemaSet)},
		{"no schema in the lock", RequestEntry(none), false, true, "tool@1.0.0: schema " + schemaSum(req.SchemaSet) + ", lock says none"},
	} {
		lock := &Lock{Schema: LockSchema, Plugins: map[string]LockedPlugin{"tool": c.lp}}
		steps, drift, err := in.SyncPlan(lock, LockFileName, "linux/amd64")
		if err != nil {
			t.Fatal(err)
		}
		if steps[0].Stale != c.stale || steps[0].SchemaUnlocked != c.unlocked || len(drift) != 1 || drift[0] != c.drift {
			t.Errorf("%s: step %+v, drift %q; want stale %v, unlocked %v, drift %q", c.name, steps[0], drift, c.stale, c.unlocked, c.drift)
		}
	}
}

// Reinstall keeps a schema given with install --from from its intact kept
// copy, and refuses, changing nothing, when that copy is gone.
func TestReinstallKeepsSchema(t *testing.T) {
	ctx := context.Background()
	in, src, sum := testInstaller(t)
	set := []byte("a schema set")
	if _, err := in.Install(ctx, Request{Name: "tool", Version: "1.0.0", Source: src, SHA256: sum, Platform: "linux/amd64", SchemaSet: set}); err != nil {
		t.Fatal(err)
	}
	res, err := in.Reinstall(ctx, "tool", "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	kept := filepath.Join(in.Paths.VersionDir("tool", "1.0.0"), SchemaFile)
	if s := res.Receipt.Protocol.Schema; s == nil || s.Path != SchemaFile || s.SHA256 != schemaSum(set) {
		t.Errorf("reinstalled receipt's schema = %+v, want it kept", s)
	}
	if b, _ := os.ReadFile(kept); !bytes.Equal(b, set) {
		t.Errorf("kept schema after Reinstall = %q, want %q", b, set)
	}

	if err := os.Remove(kept); err != nil {
		t.Fatal(err)
	}
	before, _ := store.ReadFileMax(in.Paths.ReceiptFile("tool", "1.0.0"), 1<<20)
	var su *SchemaUnavailableError
	if _, err := in.Reinstall(ctx, "tool", "1.0.0"); !errors.As(err, &su) || su.Version != "1.0.0" {
		t.Fatalf("Reinstall without the kept schema = %v, want a *SchemaUnavailableError", err)
	}
	if after, _ := store.ReadFileMax(in.Paths.ReceiptFile("tool", "1.0.0"), 1<<20); !bytes.Equal(before, after) {
		t.Errorf("a refused reinstall changed the receipt")
	}
}
