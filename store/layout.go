package store

import (
	"os"
	"strings"
)

// HomeDirName is the default home's name in the user's home directory.
const HomeDirName = ".plugins"

// Join joins clean path elements with the separator.
func Join(elem ...string) string {
	sep := string(os.PathSeparator)
	if len(elem) > 1 && elem[0] == sep {
		return sep + strings.Join(elem[1:], sep) // the root ends in a separator already
	}
	return strings.Join(elem, sep)
}

func PluginDir(home, name string) string   { return Join(home, "plugins", name) }
func CurrentFile(home, name string) string { return Join(PluginDir(home, name), "current") }
func Run(home string) string               { return Join(home, "run") }
func ConfigFile(home string) string        { return Join(home, "config.yaml") }
func VersionDir(home, name, version string) string {
	return Join(PluginDir(home, name), version)
}
func ReceiptFile(home, name, version string) string {
	return Join(VersionDir(home, name, version), "receipt.json")
}

// StartedFile is the run record of a started name@version (runtime's
// StartedPlugin): while it exists, a call attaches to that process.
func StartedFile(home, name, version string) string {
	return Join(Run(home), name+"@"+version+".json")
}

// LogFile, OutFile and LockFile are the files in run/ of a started
// name@version: its stderr (its logs), its stdout, and the lock that
// starting and stopping it take.
func LogFile(home, name, version string) string {
	return Join(Run(home), name+"@"+version+".log")
}
func OutFile(home, name, version string) string {
	return Join(Run(home), name+"@"+version+".out")
}
func LockFile(home, name, version string) string {
	return Join(Run(home), name+"@"+version+".lock")
}

// SpawnFile is where a start of name@version notes, before it runs the
// plugin, how to find the process it is about to create; it goes once the
// plugin's record (StartedFile) is written. One left behind is a start that
// was killed midway, whose process may still run.
func SpawnFile(home, name, version string) string {
	return Join(Run(home), name+"@"+version+".spawn")
}

// Exe is the path of r's executable in the home, as store.Paths.Exe gives
// it, when r.Bin is a clean relative slash-separated path (as install
// writes it); false otherwise.
func Exe(home string, r *Receipt) (string, bool) {
	if r.Bin == "" || strings.HasPrefix(r.Bin, "/") || strings.Contains(r.Bin, "\\") {
		return "", false
	}
	for _, e := range strings.Split(r.Bin, "/") {
		if e == "" || e == "." || e == ".." {
			return "", false
		}
	}
	return Join(VersionDir(home, r.Name, r.Version), "pkg", r.Bin), true
}

// KeeperSocket is where the keeper of a started name@version listens, in
// run/ (mode 0700), or "" when that path does not fit a unix socket address
// (SocketPathFits): the keeper then listens beside the plugin's own socket,
// which callers find in its run record.
func KeeperSocket(home, name, version string) string {
	p := Join(Run(home), name+"@"+version+".sock")
	if !SocketPathFits(p) {
		return ""
	}
	return p
}

// SocketPathFits reports whether path fits in a unix socket address with
// its terminating NUL: sun_path holds 104 bytes on macOS and the BSDs, 108
// on Linux, and the smaller is the rule so a store moves between them.
// Every socket path plugctl makes is checked by this one rule.
func SocketPathFits(path string) bool { return len(path) < 104 }

// ParseCurrent is the version a current pointer's content names.
func ParseCurrent(b []byte) string { return strings.TrimSpace(string(b)) }

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
