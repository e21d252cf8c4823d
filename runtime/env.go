package runtime

import (
	"strings"

	"github.com/plugctl/plugctl/internal/handshake"
)

// cleanEnv names the variables of the caller's environment that every
// plugin gets (CleanEnv). It is the only copy of the rule: nothing else
// holds it or a slice of it.
var cleanEnv = [...]string{"PATH", "HOME", "TMPDIR", "LANG", "LC_*", "TZ"}

// noCacheEnv is set for every plugin (before the profile's and the
// caller's variables, which may override it): the interpreters' switches
// that stop a script from writing caches beside its sources, so that a
// plugin run normally cannot change its installed tree (which verify would
// then report). Python writes __pycache__ next to each imported module;
// Node.js (22.1 on) writes a module compile cache when NODE_COMPILE_CACHE
// asks for one.
var noCacheEnv = [...]string{"PYTHONDONTWRITEBYTECODE=1", "NODE_DISABLE_COMPILE_CACHE=1"}

// CleanEnv returns the names of the variables of the caller's environment
// that every plugin gets: what programs need to find tools, a home, a
// temporary directory, a locale and a time zone, and nothing that usually
// holds a secret. A name ending in * matches every variable it prefixes.
// The slice is the caller's own.
func CleanEnv() []string { return append([]string(nil), cleanEnv[:]...) }

// ValidEnvName reports whether s can name a variable in AllowEnv: letters,
// digits and '_', not starting with a digit, optionally ending in *.
func ValidEnvName(s string) bool {
	s = strings.TrimSuffix(s, "*")
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// hostEnv is the part of environ (the caller's environment) that a plugin
// gets under opt: all of it with InheritEnv, else the variables that
// cleanEnv or opt.AllowEnv name, in environ's order.
func hostEnv(environ []string, opt Options) []string {
	if opt.InheritEnv {
		return environ
	}
	var out []string
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if envAllowed(k, cleanEnv[:]) || envAllowed(k, opt.AllowEnv) {
			out = append(out, kv)
		}
	}
	return out
}

// envAllowed reports whether the variable called name matches one of
// patterns (a name, or a prefix followed by *).
func envAllowed(name string, patterns []string) bool {
	for _, p := range patterns {
		if pre, ok := strings.CutSuffix(p, "*"); ok {
			if strings.HasPrefix(name, pre) {
				return true
			}
		} else if name == p {
			return true
		}
	}
	return false
}

// filterEnv drops from env the variables that go-plugin sets itself (the
// magic cookie, cookieKey, and PLUGIN_*) and entries without a name.
func filterEnv(env []string, cookieKey string) []string {
	var out []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if k == "" || handshake.Reserved(k, cookieKey) {
			continue
		}
		out = append(out, kv)
	}
	return out
}
