package install

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plugctl/plugctl/index"
	"github.com/plugctl/plugctl/store"
)

// testIndex configures an index, in in's home, that offers tool at each
// version, every one the bytes at src.
func testIndex(t *testing.T, in *Installer, src, sum string, versions ...string) *store.Config {
	t.Helper()
	doc := "apiVersion: plugctl/v1\nplugins:\n  tool:\n    versions:\n"
	for _, v := range versions {
		doc += "      " + v + ":\n        linux/amd64: {url: " + src + ", sha256: \"" + sum + "\"}\n        darwin/arm64: {url: " + src + ", sha256: \"" + sum + "\"}\n"
	}
	path := filepath.Join(t.TempDir(), "index.yaml")
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	s := store.Source{Name: "main", Address: path}
	if _, err := index.Fetch(context.Background(), in.Fetcher, in.Paths, s); err != nil {
		t.Fatal(err)
	}
	return &store.Config{Indexes: []store.Source{s}}
}

// Upgrade installs the newest allowed version, makes it active, keeps the
// old one, and with LockFile records the new one with every platform the
// index offers, through the same LockSaver as install --save.
func TestUpgradeSavesLock(t *testing.T) {
	ctx := context.Background()
	in, src, sum := testInstaller(t)
	cfg := testIndex(t, in, src, sum, "1.0.0", "1.1.0", "2.0.0")
	cands, err := Candidates(in.Paths, cfg, "tool")
	if err != nil {
		t.Fatal(err)
	}
	req, _, err := ResolveLocked(index.Query{Name: "tool", Constraint: "^1.0"}, cands, "linux/amd64")
	if err != nil || req.Version != "1.1.0" {
		t.Fatalf("ResolveLocked(tool@^1.0) = %+v, %v", req, err)
	}
	req.Version = "1.0.0"
	if _, err := in.Install(ctx, req); err != nil {
		t.Fatal(err)
	}

	dry, err := in.Upgrade(ctx, cfg, UpgradeOptions{Platform: "linux/amd64", DryRun: true})
	if err != nil || len(dry) != 1 || dry[0].From != "1.0.0" || dry[0].To != "1.1.0" || dry[0].Upgraded {
		t.Fatalf("Upgrade --dry-run = %+v, %v; want 1.0.0 -> 1.1.0, not upgraded", dry, err)
	}
	if active, _ := in.Paths.Active("tool"); active != "1.0.0" {
		t.Fatalf("after a dry run the active version is %s", active)
	}

	lockFile := filepath.Join(t.TempDir(), LockFileName)
	got, err := in.Upgrade(ctx, cfg, UpgradeOptions{Platform: "linux/amd64", LockFile: lockFile})
	if err != nil || len(got) != 1 || !got[0].Upgraded || got[0].To != "1.1.0" {
		t.Fatalf("Upgrade = %+v, %v; want tool upgraded to 1.1.0 (the constraint ^1.0 holds)", got, err)
	}
	if active, _ := in.Paths.Active("tool"); active != "1.1.0" {
		t.Errorf("active = %s, want 1.1.0", active)
	}
	if _, err := in.Paths.ReadReceipt("tool", "1.0.0"); err != nil {
		t.Errorf("the old version went: %v", err)
	}
	lock, err := ReadLock(lockFile)
	if err != nil {
		t.Fatal(err)
	}
	lp := lock.Plugins["tool"]
	if lp.Version != "1.1.0" || lp.Constraint != "^1.0" || len(lp.Platforms) != 2 || lp.Index == nil || lp.Index.Name != "main" {
		t.Errorf("locked %+v, want 1.1.0 with constraint ^1.0, both platforms, from index main", lp)
	}

	again, err := in.Upgrade(ctx, cfg, UpgradeOptions{Names: []string{"tool"}, Platform: "linux/amd64"})
	if err != nil || len(again) != 1 || again[0].Upgraded || again[0].Reason == "" {
		t.Errorf("second Upgrade = %+v, %v; want nothing upgraded, with a reason", again, err)
	}
	if _, err := in.Upgrade(ctx, cfg, UpgradeOptions{Names: []string{"main/tool"}, Platform: "linux/amd64"}); !errors.Is(err, index.ErrUsage) {
		t.Errorf("Upgrade(main/tool) = %v, want index.ErrUsage", err)
	}
}

// A lock that cannot be read fails the upgrade before the store changes.
func TestUpgradeBadLockChangesNothing(t *testing.T) {
	ctx := context.Background()
	in, src, sum := testInstaller(t)
	cfg := testIndex(t, in, src, sum, "1.0.0", "1.1.0")
	if _, err := in.Install(ctx, Request{Name: "tool", Version: "1.0.0", Index: "main", Source: src, SHA256: sum, Platform: "linux/amd64"}); err != nil {
		t.Fatal(err)
	}
	lockFile := filepath.Join(t.TempDir(), LockFileName)
	if err := os.WriteFile(lockFile, []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := in.Upgrade(ctx, cfg, UpgradeOptions{Platform: "linux/amd64", LockFile: lockFile}); err == nil {
		t.Fatal("Upgrade with a broken lock file succeeded")
	}
	if rs, _ := in.Paths.Versions("tool"); len(rs) != 1 {
		t.Errorf("after a failed upgrade %d versions are installed, want 1", len(rs))
	}
}

// LockSaver records what was installed, with the sha256 the bytes had when
// the lock entry named none (a registry digest pin), and skips reinstalls.
func TestLockSaverRecord(t *testing.T) {
	ctx := context.Background()
	in, src, sum := testInstaller(t)
	lockFile := filepath.Join(t.TempDir(), LockFileName)
	if s, err := NewLockSaver(lockFile, false); s != nil || err != nil {
		t.Fatalf("NewLockSaver(save false) = %v, %v; want nil, nil", s, err)
	}
	req := Request{Name: "tool", Version: "1.0.0", Source: src, SHA256: sum, Platform: "linux/amd64"}
	lp := RequestEntry(req)
	a := lp.Platforms["linux/amd64"]
	a.SHA256 = ""
	lp.Platforms["linux/amd64"] = a
	results, err := in.InstallPlans(ctx, []Plan{{Req: req, Lock: lp}})
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewLockSaver(lockFile, true)
	if err != nil {
		t.Fatal(err)
	}
	reinstalled := PlanResult{Plan: Plan{Req: Request{Name: "other", Version: "1.0.0"}, Reinstall: true}, Res: results[0].Res}
	if err := s.Record(append(results, reinstalled)); err != nil {
		t.Fatal(err)
	}
	lock, err := ReadLock(lockFile)
	if err != nil {
		t.Fatal(err)
	}
	if got := lock.Plugins["tool"].Platforms["linux/amd64"].SHA256; got != sum {
		t.Errorf("locked sha256 = %q, want the installed bytes' %s", got, sum)
	}
	if _, ok := lock.Plugins["other"]; ok {
		t.Error("a reinstall was recorded in the lock")
	}
}

func TestPrune(t *testing.T) {
	ctx := context.Background()
	in, src, sum := testInstaller(t)
	for _, v := range []string{"1.0.0", "1.1.0", "1.2.0"} {
		if _, err := in.Install(ctx, Request{Name: "tool", Version: v, Source: src, SHA256: sum, Platform: "linux/amd64"}); err != nil {
			t.Fatal(err)
		}
	}
	// 1.0.0, the first installed, is active: keep 1 keeps 1.2.0 and it.
	dry, err := in.Prune(ctx, PruneOptions{Keep: 1, DryRun: true})
	if err != nil || len(dry) != 1 || strings.Join(dry[0].Removed, ",") != "1.1.0" || strings.Join(dry[0].Kept, ",") != "1.2.0,1.0.0" {
		t.Fatalf("Prune --dry-run = %+v, %v; want 1.1.0 removed, 1.2.0 and 1.0.0 kept", dry, err)
	}
	if rs, _ := in.Paths.Versions("tool"); len(rs) != 3 {
		t.Fatalf("a dry run removed versions: %d left", len(rs))
	}
	got, err := in.Prune(ctx, PruneOptions{Names: []string{"tool"}, Keep: 1})
	if err != nil || len(got) != 1 || strings.Join(got[0].Removed, ",") != "1.1.0" {
		t.Fatalf("Prune = %+v, %v", got, err)
	}
	if _, err := in.Paths.ReadReceipt("tool", "1.1.0"); !errors.Is(err, store.ErrNotInstalled) {
		t.Errorf("1.1.0 after prune: %v, want not installed", err)
	}
	if again, err := in.Prune(ctx, PruneOptions{Keep: 1}); err != nil || len(again) != 0 {
		t.Errorf("second Prune = %+v, %v; want nothing", again, err)
	}
	if _, err := in.Prune(ctx, PruneOptions{Names: []string{"nosuch"}, Keep: 1}); !errors.Is(err, store.ErrNotInstalled) {
		t.Errorf("Prune(nosuch) = %v, want store.ErrNotInstalled", err)
	}
	if _, err := in.Prune(ctx, PruneOptions{Keep: 0}); !errors.Is(err, index.ErrUsage) {
		t.Errorf("Prune(keep 0) = %v, want index.ErrUsage", err)
	}
}

func TestSync(t *testing.T) {
	ctx := context.Background()
	in, src, sum := testInstaller(t)
	if _, err := in.Install(ctx, Request{Name: "extra", Version: "0.1.0", Source: src, SHA256: sum, Platform: "linux/amd64"}); err != nil {
		t.Fatal(err)
	}
	lockFile := filepath.Join(t.TempDir(), LockFileName)
	lock := &Lock{Schema: LockSchema, Plugins: map[string]LockedPlugin{
		"tool": RequestEntry(Request{Name: "tool", Version: "1.0.0", Source: src, SHA256: sum, Platform: "linux/amd64"}),
	}}
	if err := lock.Write(lockFile); err != nil {
		t.Fatal(err)
	}
	o := SyncOptions{File: lockFile, Platform: "linux/amd64"}

	rep, err := in.SyncCheck(o)
	if err != nil || len(rep.Changed) != 0 || len(rep.Drift) != 2 || strings.Join(rep.Unlocked, ",") != "extra" {
		t.Fatalf("SyncCheck = %+v, %v; want tool not installed and not active, extra unlocked", rep, err)
	}
	o.Prune = true
	if rep, err := in.SyncCheck(o); err != nil || len(rep.Drift) != 3 || !strings.Contains(rep.Drift[2], "extra is installed but not in") {
		t.Fatalf("SyncCheck --prune = %+v, %v; want extra counted", rep, err)
	}

	out, unlocked, err := in.Sync(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 2 || out[0].Name != "tool" || !out[0].Installed || !out[0].Activated || out[1].Name != "extra" || strings.Join(out[1].Removed, ",") != "0.1.0" {
		t.Errorf("Sync = %+v, want tool installed and activated, extra removed", out)
	}
	if strings.Join(unlocked, ",") != "extra" {
		t.Errorf("unlocked = %v, want extra", unlocked)
	}
	if rep, err := in.SyncCheck(o); err != nil || len(rep.Drift)+len(rep.Changed)+len(rep.Unlocked) != 0 {
		t.Errorf("SyncCheck after Sync = %+v, %v; want no difference", rep, err)
	}
	again, _, err := in.Sync(ctx, o)
	if err != nil || len(again) != 1 || again[0].Installed || again[0].Activated {
		t.Errorf("second Sync = %+v, %v; want tool already installed and active", again, err)
	}
	if _, _, err := in.Sync(ctx, SyncOptions{File: filepath.Join(t.TempDir(), LockFileName)}); !errors.Is(err, ErrNoLock) {
		t.Errorf("Sync without a lock = %v, want ErrNoLock", err)
	}
}

// SyncCheck names a plugin keeping a schema the lock does not record; Sync
// puts back the lock's schema where another one is kept.
func TestSyncSchema(t *testing.T) {
	ctx := context.Background()
	in, src, sum := testInstaller(t)
	req := Request{Name: "tool", Version: "1.0.0", Source: src, SHA256: sum, Platform: "linux/amd64", SchemaSet: []byte("installed set")}
	if _, err := in.Install(ctx, req); err != nil {
		t.Fatal(err)
	}
	lockFile := filepath.Join(t.TempDir(), LockFileName)
	o := SyncOptions{File: lockFile, Platform: "linux/amd64"}
	none := req
	none.SchemaSet = nil
	if err := (&Lock{Schema: LockSchema, Plugins: map[string]LockedPlugin{"tool": RequestEntry(none)}}).Write(lockFile); err != nil {
		t.Fatal(err)
	}
	if rep, err := in.SyncCheck(o); err != nil || rep.SchemaUnlocked != "tool" || len(rep.Drift) != 1 {
		t.Errorf("SyncCheck with a schema the lock does not record = %+v, %v; want it named", rep, err)
	}
	other := req
	other.SchemaSet = []byte("locked set")
	if err := (&Lock{Schema: LockSchema, Plugins: map[string]LockedPlugin{"tool": RequestEntry(other)}}).Write(lockFile); err != nil {
		t.Fatal(err)
	}
	out, _, err := in.Sync(ctx, o)
	if err != nil || len(out) != 1 || !out[0].Reinstalled {
		t.Fatalf("Sync with another schema in the lock = %+v, %v; want tool reinstalled", out, err)
	}
	if rep, err := in.SyncCheck(o); err != nil || len(rep.Drift)+len(rep.Changed) != 0 || rep.SchemaUnlocked != "" {
		t.Errorf("SyncCheck after Sync = %+v, %v; want no difference", rep, err)
	}
}
