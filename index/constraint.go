package index

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// constraintVersion is a version as a constraint may name it: digits, with
// x or * standing for a minor or patch number, and an optional prerelease
// and build. Masterminds/semver also reads a bare x as "any version", and
// ^x or ~x likewise: a typo that would match everything.
var constraintVersion = regexp.MustCompile(`^v?[0-9]+(\.([0-9]+|[xX*])(\.([0-9]+|[xX*]))?)?(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)

// CheckConstraint parses a version constraint strictly: every version in it
// must start with a number (1, 1.2, 1.x, 1.2.3-rc.1), or be * for any
// version. It returns the parsed constraint.
func CheckConstraint(c string) (*semver.Constraints, error) {
	for _, group := range strings.Split(c, "||") {
		fields := strings.Fields(strings.ReplaceAll(group, ",", " "))
		if len(fields) == 0 {
			return nil, fmt.Errorf("empty alternative in %q", c)
		}
		for _, f := range fields {
			v := strings.TrimLeft(f, "^~<>=!")
			if v == "" || f == "-" || v == "*" {
				continue // an operator before its version, a range's dash
			}
			if !constraintVersion.MatchString(v) {
				return nil, fmt.Errorf("%q is not a version (want a number first, as in 1, 1.2 or 1.2.3; * for any version)", v)
			}
		}
	}
	return semver.NewConstraint(c)
}
