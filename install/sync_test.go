package install

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestSyncPlan(t *testing.T) {
	in, src, sum := testInstaller(t)
	for _, v := range []string{"1.0.0", "1.1.0"} {
		if _, err := in.Install(context.Background(), Request{Name: "tool", Version: v, Source: src, SHA256: sum, Platform: "linux/amd64"}); err != nil {
			t.Fatal(err)
		}
	}
	art := map[string]LockedArtifact{"linux/amd64": {URL: src, SHA256: sum}}
	lock := &Lock{Schema: LockSchema, Plugins: map[string]LockedPlugin{
		"tool":  {Version: "1.1.0", Constraint: "^2", Platforms: art},
		"other": {Version: "0.1.0", Platforms: art},
	}}
	steps, drift, err := in.SyncPlan(lock, "plugctl.lock", "linux/amd64")
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 2 || steps[0].Req.Name != "other" || steps[1].Req.Name != "tool" || steps[1].Req.Version != "1.1.0" {
		t.Errorf("steps = %+v, want other then tool@1.1.0", steps)
	}
	want := []string{
		"other@0.1.0 is not installed",
		"other: active is -, lock says 0.1.0",
		`tool: locked version 1.1.0 does not satisfy its constraint "^2"`,
		"tool: active is 1.0.0, lock says 1.1.0",
	}
	if strings.Join(drift, "\n") != strings.Join(want, "\n") {
		t.Errorf("drift:\n%s\nwant:\n%s", strings.Join(drift, "\n"), strings.Join(want, "\n"))
	}

	// Installed from other bytes than the lock records: tampered.
	lock.Plugins["tool"] = LockedPlugin{Version: "1.0.0", Platforms: map[string]LockedArtifact{"linux/amd64": {URL: src, SHA256: strings.Repeat("0", 64)}}}
	var lm *LockMismatchError
	if _, _, err := in.SyncPlan(lock, "plugctl.lock", "linux/amd64"); !errors.Is(err, ErrTampered) || !errors.As(err, &lm) || lm.Name != "tool" || lm.Version != "1.0.0" {
		t.Errorf("SyncPlan with another hash = %v, want a *LockMismatchError for tool@1.0.0 wrapping ErrTampered", err)
	}
	// No artifact for the platform.
	if _, _, err := in.SyncPlan(lock, "plugctl.lock", "plan9/amd64"); err == nil || !strings.Contains(err.Error(), "plan9/amd64") {
		t.Errorf("SyncPlan for plan9/amd64 = %v, want an error naming the platform", err)
	}
}

func TestPruneVersions(t *testing.T) {
	in, src, sum := testInstaller(t)
	for _, v := range []string{"1.0.0", "1.10.0", "1.2.0", "2.0.0-rc.1"} {
		if _, err := in.Install(context.Background(), Request{Name: "tool", Version: v, Source: src, SHA256: sum, Platform: "linux/amd64"}); err != nil {
			t.Fatal(err)
		}
	}
	// 1.0.0, the first installed, is active.
	got, err := in.PruneVersions("tool", 2)
	if err != nil {
		t.Fatal(err)
	}
	want := []PruneChoice{{"2.0.0-rc.1", true}, {"1.10.0", true}, {"1.2.0", false}, {"1.0.0", true}}
	if len(got) != len(want) {
		t.Fatalf("PruneVersions = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("PruneVersions = %+v, want %+v", got, want)
		}
	}
	if got, err := in.PruneVersions("nothing", 1); err != nil || len(got) != 0 {
		t.Errorf("PruneVersions(not installed) = %v, %v", got, err)
	}
}
