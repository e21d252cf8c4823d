package install

import (
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
	if req, err := Resolve(q, cands, platform); err == nil {
		st.Allowed = req.Version
		st.Request = &req
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
