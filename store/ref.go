package store

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/mod/semver"
)

// ErrBadRef is wrapped when a NAME[@VERSION] argument names no version it
// could mean: an '@' followed by nothing, or by something that is not a
// semantic version.
var ErrBadRef = errors.New("invalid NAME@VERSION")

// SplitAt splits NAME[@REST] at its first '@', saying whether there was
// one. It is the one place that decides where a name ends: ParseRef builds
// on it for exact versions, and installs split NAME@CONSTRAINT with it.
func SplitAt(s string) (name, rest string, hasAt bool) {
	return strings.Cut(s, "@")
}

// ParseRef parses NAME[@VERSION] as a user types it to name an installed
// plugin or version. VERSION is a semantic version, with or without a
// leading "v" ("v1.2.3" means "1.2.3"); an '@' with nothing after it, or
// with anything else after it, is an error wrapping ErrBadRef, so that no
// command acts on the whole plugin (or on a path) when the user named one
// version. needVersion makes the version required.
func ParseRef(s string, needVersion bool) (name, version string, err error) {
	name, version, hasAt := SplitAt(s)
	if err := ValidName(name); err != nil {
		return "", "", err
	}
	if !hasAt {
		if needVersion {
			return "", "", fmt.Errorf("%w: %q: want NAME@VERSION", ErrBadRef, s)
		}
		return name, "", nil
	}
	v, ok := CanonicalVersion(version)
	if !ok {
		if version == "" {
			return "", "", fmt.Errorf("%w: %q: no version after '@' (want NAME@MAJOR.MINOR.PATCH, or NAME alone)", ErrBadRef, s)
		}
		return "", "", fmt.Errorf("%w: %q: version %q is not a semantic version (want MAJOR.MINOR.PATCH)", ErrBadRef, s, version)
	}
	return name, v, nil
}

// CanonicalVersion returns v without a leading "v" when it is a strict
// semantic version (MAJOR.MINOR.PATCH, with optional pre-release and build
// parts), the form install writes in the store. golang.org/x/mod/semver
// checks it without compiling regular expressions, but also accepts the
// shorthands "1" and "1.2", which name no installed version: those are
// refused here.
func CanonicalVersion(v string) (string, bool) {
	v = strings.TrimPrefix(v, "v")
	if v == "" || !semver.IsValid("v"+v) {
		return "", false
	}
	core := v
	if i := strings.IndexAny(core, "-+"); i >= 0 {
		core = core[:i]
	}
	if strings.Count(core, ".") != 2 {
		return "", false
	}
	return v, true
}

// ReadRef returns the receipt of the installed version that NAME[@VERSION]
// names: the given version, else the active one. It wraps ErrNotInstalled
// when there is none.
func (p Paths) ReadRef(ref string) (*Receipt, error) {
	name, version, err := ParseRef(ref, false)
	if err != nil {
		return nil, err
	}
	if version == "" {
		active, err := p.Active(name)
		if err != nil {
			return nil, err
		}
		if active == "" {
			return nil, fmt.Errorf("%s: %w", name, ErrNotInstalled)
		}
		version = active
	}
	return p.ReadReceipt(name, version)
}
