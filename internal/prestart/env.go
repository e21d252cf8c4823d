package prestart

import (
	"slices"
	"strings"
)

// CleanEnv names the variables of the caller's environment that every
// plugin gets: what programs need to find tools, a home, a temporary
// directory, a locale and a time zone, and nothing that usually holds a
// secret. A name ending in * matches every variable it prefixes.
// runtime.CleanEnv is this list.
var CleanEnv = []string{"PATH", "HOME", "TMPDIR", "LANG", "LC_*", "TZ"}

// HostEnv is the part of environ that a plugin gets unless it inherits
// the whole environment: the variables that clean (CleanEnv, or
// runtime.CleanEnv) or allow names, in environ's order.
func HostEnv(environ, clean, allow []string) []string {
	var out []string
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if EnvAllowed(k, clean) || EnvAllowed(k, allow) {
			out = append(out, kv)
		}
	}
	return out
}

// EnvAllowed reports whether the variable called name matches one of
// patterns (a name, or a prefix followed by *).
func EnvAllowed(name string, patterns []string) bool {
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

// FilterEnv drops the variables that go-plugin sets itself: the magic
// cookie and PLUGIN_*.
func FilterEnv(env []string, cookieKey string) []string {
	var out []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if k == "" || k == cookieKey || strings.HasPrefix(k, "PLUGIN_") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// go-plugin's variables that prestart sets as go-plugin's client would,
// and that Matches compares loosely.
const (
	envSocketDir = "PLUGIN_UNIX_SOCKET_DIR"
	envVersions  = "PLUGIN_PROTOCOL_VERSIONS"
)

// sameEnv reports whether a and b are the same environment, except for the
// value of PLUGIN_UNIX_SOCKET_DIR (each start makes its own directory) and
// the order of PLUGIN_PROTOCOL_VERSIONS (go-plugin lists them from a map).
func sameEnv(a, b []string) bool {
	if len(a) != len(b) || duplicate(a) != "" || duplicate(b) != "" {
		// With a name twice, exec.Cmd would pass one copy and ForkExec
		// both: never the same.
		return false
	}
	for i := range a {
		ka, va, _ := strings.Cut(a[i], "=")
		kb, vb, _ := strings.Cut(b[i], "=")
		switch {
		case ka != kb:
			return false
		case ka == envSocketDir:
		case ka == envVersions:
			if !sameSet(va, vb) {
				return false
			}
		case va != vb:
			return false
		}
	}
	return true
}

// sameSet compares two comma-separated lists as sets.
func sameSet(a, b string) bool {
	as, bs := strings.Split(a, ","), strings.Split(b, ",")
	for _, x := range as {
		if !slices.Contains(bs, x) {
			return false
		}
	}
	for _, x := range bs {
		if !slices.Contains(as, x) {
			return false
		}
	}
	return true
}

// duplicate returns a variable name that env sets more than once, or "".
func duplicate(env []string) string {
	seen := make(map[string]bool, len(env))
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if seen[k] {
			return k
		}
		seen[k] = true
	}
	return ""
}
