package store

import (
	"errors"
	"fmt"
	"strings"

	"github.com/plugctl/plugctl/store/layout"
)

// ErrBadVersion is wrapped by SplitRef when the version of NAME@VERSION is
// not a version.
var ErrBadVersion = errors.New("bad version")

// SplitRef splits NAME[@VERSION] and checks both parts; the version is
// returned without a leading "v" and is empty when none is given.
func SplitRef(s string) (name, version string, err error) {
	name, version, _ = strings.Cut(s, "@")
	if err := ValidName(name); err != nil {
		return "", "", err
	}
	if version != "" && !layout.ValidVersion(version) {
		return "", "", fmt.Errorf("%q: %w", s, ErrBadVersion)
	}
	return name, strings.TrimPrefix(version, "v"), nil
}

// ReadRef returns the receipt of the installed version that NAME[@VERSION]
// names: the given version, else the active one. It wraps ErrNotInstalled
// when there is none.
func (p Paths) ReadRef(ref string) (*Receipt, error) {
	name, version, err := SplitRef(ref)
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
