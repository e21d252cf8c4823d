package install

import (
	"context"
	"errors"
	"fmt"

	"github.com/Masterminds/semver/v3"

	"github.com/plugctl/plugctl/index"
	"github.com/plugctl/plugctl/store"
)

// Status compares one installed plugin's active version with what its
// index offers now.
type Status struct {
	Name       string
	Active     string // "" when no version is active
	Constraint string // recorded at install, or given now
	Index      string
	Allowed    string // newest version the constraint allows for this platform ("" if none)
	Latest     string // newest release for this platform, whatever the constraint
	Request    *Request
	cand       *Candidate // the index offer Request comes from
	// Reason is set when the plugin cannot be checked (installed with
	// --from, or its index no longer offers it).
	Reason string
}

// Upgradable reports whether a newer version within the constraint exists.
func (s Status) Upgradable() bool { return newer(s.Allowed, s.Active) }

// Outdated reports whether any newer release exists.
func (s Status) Outdated() bool { return newer(s.Latest, s.Active) || s.Upgradable() }

func newer(a, b string) bool {
	if a == "" {
		return false
	}
	if b == "" {
		return true
	}
	va, err1 := semver.NewVersion(a)
	vb, err2 := semver.NewVersion(b)
	return err1 == nil && err2 == nil && va.GreaterThan(vb)
}

// CheckOne computes the Status of an installed plugin against the
// configured indexes. constraint, when not empty, replaces the recorded one.
func CheckOne(p store.Paths, cfg *store.Config, name, constraint, platform string) (Status, error) {
	st := Status{Name: name}
	active, err := p.Active(name)
	if err != nil {
		return st, err
	}
	rs, err := p.Versions(name)
	if err != nil {
		return st, err
	}
	if len(rs) == 0 {
		return st, fmt.Errorf("%s: %w", name, store.ErrNotInstalled)
	}
	r := rs[0]
	for _, x := range rs {
		if x.Version == active {
			r = x
		}
	}
	st.Active = active
	st.Constraint = r.Constraint
	if constraint != "" {
		st.Constraint = constraint
	}
	st.Index = r.Index
	if r.Index == "" {
		st.Reason = "installed with --from: not from an index"
		return st, nil
	}
	if _, ok := cfg.Lookup(r.Index); !ok {
		st.Reason = "its index " + r.Index + " is no longer configured"
		return st, nil
	}
	cands, err := Candidates(p, cfg, name)
	if err != nil {
		return st, err
	}
	q := index.Query{Index: r.Index, Name: name, Constraint: st.Constraint}
	if req, c, err := resolve(q, cands, platform); err == nil {
		st.Allowed = req.Version
		st.Request, st.cand = &req, c
	} else if !errors.Is(err, index.ErrNotFound) {
		return st, err
	}
	if req, err := Resolve(index.Query{Index: r.Index, Name: name}, cands, platform); err == nil {
		st.Latest = req.Version
	} else if !errors.Is(err, index.ErrNotFound) {
		return st, err
	}
	if st.Allowed == "" && st.Latest == "" {
		st.Reason = "index " + r.Index + " offers no version for " + platform
	}
	return st, nil
}

// Statuses checks the named installed plugins, NAME or NAME@CONSTRAINT (a
// constraint given replaces the recorded one), against their indexes; with
// no names, every installed plugin.
func Statuses(p store.Paths, cfg *store.Config, names []string, platform string) ([]Status, error) {
	type want struct{ name, constraint string }
	var todo []want
	if len(names) == 0 {
		all, err := p.Names()
		if err != nil {
			return nil, err
		}
		for _, n := range all {
			todo = append(todo, want{name: n})
		}
	}
	for _, s := range names {
		q, err := index.ParseQuery(s)
		if err != nil {
			return nil, err
		}
		if q.Index != "" {
			return nil, index.Usagef("%s: a plugin is checked against the index it was installed from", s)
		}
		todo = append(todo, want{q.Name, q.Constraint})
	}
	var out []Status
	for _, w := range todo {
		st, err := CheckOne(p, cfg, w.name, w.constraint, platform)
		if err != nil {
			if len(names) == 0 && errors.Is(err, store.ErrNotInstalled) {
				continue // an empty plugin directory
			}
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// UpgradeOptions configure Upgrade.
type UpgradeOptions struct {
	Names    []string // NAME[@CONSTRAINT]; none: every installed plugin
	Platform string
	DryRun   bool // say what would be upgraded, change nothing
	// LockFile, when set, records the upgraded versions (upgrade --save),
	// every platform their index offers.
	LockFile string
}

// Upgraded says what Upgrade did with one plugin.
type Upgraded struct {
	Name       string `json:"name"`
	From       string `json:"from"`
	To         string `json:"to"`
	Constraint string `json:"constraint,omitempty"`
	Upgraded   bool   `json:"upgraded"` // false with DryRun or when already newest
	Reason     string `json:"reason,omitempty"`
}

// Upgrade installs, beside the installed ones, the newest version of each
// plugin its constraint allows, and makes it active; the old versions stay.
// With DryRun it only says what it would do (To differs from From).
func (in *Installer) Upgrade(ctx context.Context, cfg *store.Config, o UpgradeOptions) ([]Upgraded, error) {
	sts, err := Statuses(in.Paths, cfg, o.Names, o.Platform)
	if err != nil {
		return nil, err
	}
	out := []Upgraded{}
	var plans []Plan
	for _, st := range sts {
		u := Upgraded{Name: st.Name, From: st.Active, To: st.Active, Constraint: st.Constraint, Reason: st.Reason}
		if st.Upgradable() {
			u.To = st.Allowed
			p := Plan{Req: *st.Request}
			if o.LockFile != "" && !o.DryRun {
				if p.Lock, err = Entry(*st.cand, st.Request.Version, st.Request.Constraint); err != nil {
					return nil, err
				}
			}
			plans = append(plans, p)
		} else if u.Reason == "" {
			u.Reason = "newest allowed version is active"
		}
		out = append(out, u)
	}
	if o.DryRun || len(plans) == 0 {
		return out, nil
	}
	saver, err := NewLockSaver(o.LockFile, o.LockFile != "")
	if err != nil {
		return nil, err
	}
	results, err := in.InstallPlans(ctx, plans)
	if err != nil {
		return nil, err
	}
	for _, r := range results {
		if _, err := in.Use(ctx, r.Plan.Req.Name, r.Plan.Req.Version); err != nil {
			return nil, err
		}
		for i := range out {
			if out[i].Name == r.Plan.Req.Name {
				out[i].Upgraded = true
			}
		}
	}
	return out, saver.Record(results)
}
