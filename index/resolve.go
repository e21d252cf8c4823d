package index

import (
	"errors"
	"fmt"
	"strings"

	"github.com/Masterminds/semver/v3"

	"github.com/plugctl/plugctl/store"
)

// ErrNotFound is wrapped by every failed lookup of a plugin, version,
// platform or index.
var ErrNotFound = errors.New("not found")

// ErrUsage is wrapped by malformed requests: a bad name or constraint.
var ErrUsage = errors.New("invalid request")

// Usagef is a malformed request (it wraps ErrUsage) whose message is only
// what was wrong: for requests whose every field is an option the
// operator gave, where "invalid request" would say nothing more.
func Usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }
func (e *usageError) Unwrap() error { return ErrUsage }

// NotFoundError says what was looked for and where.
type NotFoundError struct {
	What  string // "plugin", "version", "platform", "index"
	Name  string
	Where string // index name(s) or constraint, for the message
}

func (e *NotFoundError) Error() string {
	switch e.What {
	case "version":
		return fmt.Sprintf("no version of %s matches %s", e.Name, e.Where)
	case "platform":
		return fmt.Sprintf("%s has no artifact for %s", e.Name, e.Where)
	case "index":
		return fmt.Sprintf("index %q is not configured", e.Name)
	}
	if e.Where == "" {
		return fmt.Sprintf("plugin %q not found: no index is configured", e.Name)
	}
	return fmt.Sprintf("plugin %q not found in %s", e.Name, e.Where)
}

func (e *NotFoundError) Unwrap() error { return ErrNotFound }

// Query is a parsed [INDEX/]NAME[@CONSTRAINT].
type Query struct {
	Index      string
	Name       string
	Constraint string
}

func (q Query) String() string {
	s := q.Name
	if q.Index != "" {
		s = q.Index + "/" + s
	}
	if q.Constraint != "" {
		s += "@" + q.Constraint
	}
	return s
}

// ParseQuery parses [INDEX/]NAME[@CONSTRAINT], validating the names and the
// constraint before anything is built from them.
func ParseQuery(s string) (Query, error) {
	var q Query
	rest, constraint, hasAt := store.SplitAt(s)
	if hasAt {
		q.Constraint = strings.TrimSpace(constraint)
		if q.Constraint == "" {
			return q, fmt.Errorf("%w: %q: empty version constraint after @", ErrUsage, s)
		}
		if _, err := CheckConstraint(q.Constraint); err != nil {
			return q, fmt.Errorf("%w: %q: bad version constraint %q: %v", ErrUsage, s, q.Constraint, err)
		}
	}
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		q.Index, rest = rest[:i], rest[i+1:]
		if err := store.ValidName(q.Index); err != nil {
			return q, fmt.Errorf("%w: index name in %q: %v", ErrUsage, s, err)
		}
	}
	q.Name = rest
	if err := store.ValidName(q.Name); err != nil {
		return q, fmt.Errorf("%w: %v", ErrUsage, err)
	}
	return q, nil
}

// Match returns the newest version of p matching constraint ("" means any
// release) that has an artifact for platform. Prereleases match only when
// the constraint names one, as Masterminds/semver decides.
func Match(name string, p Plugin, constraint, platform string) (string, Artifact, error) {
	var c *semver.Constraints
	if constraint != "" {
		var err error
		if c, err = CheckConstraint(constraint); err != nil {
			return "", Artifact{}, fmt.Errorf("%w: bad version constraint %q: %v", ErrUsage, constraint, err)
		}
	}
	matched := false
	for _, v := range p.SortedVersions() {
		if c == nil && v.Prerelease() != "" {
			continue
		}
		if c != nil && !c.Check(v) {
			continue
		}
		matched = true
		if a, ok := p.Versions[v.Original()][platform]; ok {
			return v.String(), a, nil
		}
	}
	if matched {
		return "", Artifact{}, &NotFoundError{What: "platform", Name: name + "@" + orAny(constraint), Where: platform}
	}
	return "", Artifact{}, &NotFoundError{What: "version", Name: name, Where: orAny(constraint)}
}

func orAny(c string) string {
	if c == "" {
		return "any released version"
	}
	return c
}
