package install

import (
	"context"
	"errors"
	"testing"

	"github.com/plugctl/plugctl/index"
	"github.com/plugctl/plugctl/store"
)

func queries(t *testing.T, ss ...string) []index.Query {
	t.Helper()
	var qs []index.Query
	for _, s := range ss {
		q, err := index.ParseQuery(s)
		if err != nil {
			t.Fatal(err)
		}
		qs = append(qs, q)
	}
	return qs
}

// ConfigPlans resolves each query against the configured indexes, in
// order, with the lock entry of the chosen version; a query naming an
// index not configured, or a plugin no index offers, fails them all.
func TestConfigPlans(t *testing.T) {
	in, src, sum := testInstaller(t)
	cfg := testIndex(t, in, src, sum, "1.0.0", "1.1.0", "2.0.0")
	plans, err := ConfigPlans(in.Paths, cfg, queries(t, "tool@^1", "main/tool"), "linux/amd64")
	if err != nil {
		t.Fatal(err)
	}
	if len(plans) != 2 || plans[0].Req.Version != "1.1.0" || plans[1].Req.Version != "2.0.0" {
		t.Fatalf("ConfigPlans = %+v, want tool 1.1.0 then 2.0.0", plans)
	}
	p := plans[0]
	if p.Req.Name != "tool" || p.Req.Index != "main" || p.Req.SHA256 != sum || p.Replace || p.Reinstall {
		t.Errorf("plan 0's request = %+v", p)
	}
	if p.Lock.Version != "1.1.0" || p.Lock.Constraint != "^1" || len(p.Lock.Platforms) != 2 {
		t.Errorf("plan 0's lock entry = %+v, want 1.1.0, ^1, both platforms", p.Lock)
	}
	var nf *index.NotFoundError
	if _, err := ConfigPlans(in.Paths, cfg, queries(t, "tool", "other/tool"), "linux/amd64"); !errors.As(err, &nf) || nf.What != "index" || nf.Name != "other" {
		t.Errorf("an index not configured: err = %v, want index other not found", err)
	}
	if _, err := ConfigPlans(in.Paths, cfg, queries(t, "absent"), "linux/amd64"); err == nil {
		t.Error("a plugin no index offers: no error")
	}
	if _, err := ConfigPlans(in.Paths, cfg, queries(t, "tool"), "plan9/386"); err == nil {
		t.Error("a platform the index does not offer: no error")
	}
}

// IndexPlans resolves against the one index given (install --index) and
// refuses INDEX/NAME as a usage error.
func TestIndexPlans(t *testing.T) {
	in, src, sum := testInstaller(t)
	cfg := testIndex(t, in, src, sum, "1.0.0", "2.0.0")
	idx, meta, err := index.FetchUncached(context.Background(), in.Fetcher, in.Paths, store.Source{Name: "--index", Address: cfg.Indexes[0].Address})
	if err != nil {
		t.Fatal(err)
	}
	plans, err := IndexPlans(idx, meta, queries(t, "tool@1.0.0", "tool"), "linux/amd64")
	if err != nil {
		t.Fatal(err)
	}
	if len(plans) != 2 || plans[0].Req.Version != "1.0.0" || plans[1].Req.Version != "2.0.0" || plans[1].Lock.Version != "2.0.0" {
		t.Fatalf("IndexPlans = %+v, want tool 1.0.0 then 2.0.0", plans)
	}
	if _, err := IndexPlans(idx, meta, queries(t, "main/tool"), "linux/amd64"); !errors.Is(err, index.ErrUsage) {
		t.Errorf("INDEX/NAME with --index: err = %v, want a usage error", err)
	}
	if _, err := IndexPlans(idx, meta, queries(t, "absent"), "linux/amd64"); err == nil {
		t.Error("a plugin the index does not offer: no error")
	}
}

// ReinstallPlans takes installed NAME@VERSIONs only.
func TestReinstallPlans(t *testing.T) {
	in, src, sum := testInstaller(t)
	if _, err := in.Install(context.Background(), Request{Name: "tool", Version: "1.0.0", Source: src, SHA256: sum}); err != nil {
		t.Fatal(err)
	}
	plans, err := ReinstallPlans(in.Paths, []string{"tool@1.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	if len(plans) != 1 || !plans[0].Reinstall || plans[0].Req.Name != "tool" || plans[0].Req.Version != "1.0.0" {
		t.Errorf("ReinstallPlans = %+v", plans)
	}
	if _, err := ReinstallPlans(in.Paths, []string{"tool@1.0.0", "tool"}); !errors.Is(err, store.ErrBadRef) {
		t.Errorf("no version: err = %v, want ErrBadRef", err)
	}
	if _, err := ReinstallPlans(in.Paths, []string{"tool@1.0.0", "tool@9.9.9"}); !errors.Is(err, store.ErrNotInstalled) {
		t.Errorf("a version not installed: err = %v, want ErrNotInstalled", err)
	}
}
