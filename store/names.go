package store

import "strings"

// SocketPathFits reports whether path fits in a unix socket address with
// its terminating NUL: sun_path holds 104 bytes on macOS and the BSDs, 108
// on Linux, and the smaller is the rule so a store moves between them.
// Every socket path plugctl makes is checked by this one rule.
func SocketPathFits(path string) bool { return len(path) < 104 }

// parseCurrent is the version a current pointer's content names.
func parseCurrent(b []byte) string { return strings.TrimSpace(string(b)) }

// validName reports whether name is a plugin name: [a-z0-9][a-z0-9._-]*, at
// most 64 characters, written by hand so that no regexp is compiled at
// start-up.
func validName(name string) bool {
	if len(name) == 0 || len(name) > 64 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case i > 0 && (c == '.' || c == '_' || c == '-'):
		default:
			return false
		}
	}
	return true
}

// ValidVersion reports whether version can name one directory under a
// plugin's: not empty, not . or .., no separator.
func ValidVersion(version string) bool {
	return version != "" && version != "." && version != ".." && !strings.ContainsAny(version, `/\`)
}
