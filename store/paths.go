package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// EnvHome names the environment variable that overrides the default home.
const EnvHome = "PLUGCTL_HOME"

// Paths derives every path in a plugctl home. Nothing else builds store
// paths by hand.
type Paths struct {
	Home string
}

// DefaultHome returns $PLUGCTL_HOME, or ~/.plugins when it is unset.
func DefaultHome() (string, error) {
	if h := os.Getenv(EnvHome); h != "" {
		return filepath.Abs(h)
	}
	u, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("find home directory: %w (set %s)", err, EnvHome)
	}
	return filepath.Join(u, ".plugins"), nil
}

// New returns the Paths of the home at dir, made absolute.
func New(dir string) (Paths, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Paths{}, fmt.Errorf("home %s: %w", dir, err)
	}
	return Paths{Home: abs}, nil
}

func (p Paths) Plugins() string                { return filepath.Join(p.Home, "plugins") }
func (p Paths) PluginDir(name string) string   { return filepath.Join(p.Plugins(), name) }
func (p Paths) CurrentFile(name string) string { return filepath.Join(p.PluginDir(name), "current") }
func (p Paths) VersionDir(name, version string) string {
	return filepath.Join(p.PluginDir(name), version)
}
func (p Paths) PkgDir(name, version string) string {
	return filepath.Join(p.VersionDir(name, version), "pkg")
}
func (p Paths) ReceiptFile(name, version string) string {
	return filepath.Join(p.VersionDir(name, version), "receipt.json")
}
func (p Paths) Indexes() string             { return filepath.Join(p.Home, "indexes") }
func (p Paths) IndexDir(name string) string { return filepath.Join(p.Indexes(), name) }

// TrustFile keeps the highest version and its hash seen of a signed index,
// outside the cache so that replacing the cache cannot lose it.
func (p Paths) TrustFile(index string) string {
	return filepath.Join(p.Home, "trust", index+".json")
}
func (p Paths) Run() string    { return filepath.Join(p.Home, "run") }
func (p Paths) Tmp() string    { return filepath.Join(p.Home, "tmp") }
func (p Paths) Locks() string  { return filepath.Join(p.Home, "locks") }
func (p Paths) Config() string { return filepath.Join(p.Home, "config.yaml") }
func (p Paths) LockFile(name, version string) string {
	return filepath.Join(p.Locks(), name+"@"+version+".lock")
}

// IndexLockFile is the lock of index name's cache and trust record, held
// by an update from the download to the swap of the cache.
func (p Paths) IndexLockFile(name string) string {
	return filepath.Join(p.Locks(), "indexes", name+".lock")
}

// NameLockFile is the lock of a plugin's directory as a whole: held while a
// version is committed into it or removed from it, and while its active
// version changes (a name holds no '@', so it never clashes with LockFile).
func (p Paths) NameLockFile(name string) string {
	return filepath.Join(p.Locks(), name+".lock")
}

// runFile is a file of name@version in run/: NAME@VERSION followed by ext.
func (p Paths) runFile(name, version, ext string) string {
	return filepath.Join(p.Run(), name+"@"+version+ext)
}

// StartedFile is the run record of a started name@version (runtime's
// StartedPlugin): while it exists, a call attaches to that process.
func (p Paths) StartedFile(name, version string) string { return p.runFile(name, version, ".json") }

// LogFile, OutFile and RunLockFile are the files in run/ of a started
// name@version: its stderr (its logs), its stdout, and the lock that
// starting and stopping it take.
func (p Paths) LogFile(name, version string) string     { return p.runFile(name, version, ".log") }
func (p Paths) OutFile(name, version string) string     { return p.runFile(name, version, ".out") }
func (p Paths) RunLockFile(name, version string) string { return p.runFile(name, version, ".lock") }

// SpawnFile is where a start of name@version notes, before it runs the
// plugin, how to find the process it is about to create; it goes once the
// plugin's record (StartedFile) is written. One left behind is a start that
// was killed midway, whose process may still run.
func (p Paths) SpawnFile(name, version string) string { return p.runFile(name, version, ".spawn") }

// KeeperSocket is where the keeper of a started name@version listens, in
// run/ (mode 0700), or "" when that path does not fit a unix socket address
// (SocketPathFits): the keeper then listens beside the plugin's own socket,
// which callers find in its run record.
func (p Paths) KeeperSocket(name, version string) string {
	s := p.runFile(name, version, ".sock")
	if !SocketPathFits(s) {
		return ""
	}
	return s
}

// EnsureRun creates the private run/ directory (0700) and returns it.
// Plugins listen on unix sockets there, so only this user can reach them.
func (p Paths) EnsureRun() (string, error) {
	dir := p.Run()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	// MkdirAll leaves an existing directory's mode alone.
	if err := os.Chmod(dir, 0o700); err != nil {
		return "", err
	}
	return dir, nil
}

// EnsureTmp creates tmp/ (staging, on the same filesystem as plugins/).
func (p Paths) EnsureTmp() (string, error) {
	dir := p.Tmp()
	return dir, os.MkdirAll(dir, 0o755)
}

// ErrInvalidName is wrapped by every rejected plugin name.
var ErrInvalidName = errors.New("invalid plugin name")

// ValidName checks a plugin name before any path is built from it: it must
// match [a-z0-9][a-z0-9._-]* and be at most 64 characters.
func ValidName(name string) error {
	if !validName(name) {
		return fmt.Errorf("%w %q: use lower-case letters, digits, '.', '_' and '-', starting with a letter or digit, at most 64 characters", ErrInvalidName, name)
	}
	return nil
}
