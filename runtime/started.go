package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	plugin "github.com/hashicorp/go-plugin"

	"github.com/plugctl/plugctl/store"
)

// StartedPlugin is a plugin started detached with Start: what
// run/<name>@<version>.json records (mode 0600). It holds go-plugin's
// ReattachConfig (protocol, negotiated protocol version, address, pid), which
// go-plugin's own ReattachConfig() leaves without the protocol version, and
// what a host needs to reattach with mTLS (the plugin's certificate; the
// host's is the home's run/host-cert.pem).
type StartedPlugin struct {
	Schema          int    `json:"schema"`
	Name            string `json:"name"`
	Version         string `json:"version"`
	Pid             int    `json:"pid"`
	Protocol        string `json:"protocol"` // grpc | netrpc
	ProtocolVersion int    `json:"protocolVersion"`
	Network         string `json:"network"` // unix | tcp
	Address         string `json:"address"`
	// ServerCert is the plugin's certificate from the sixth field of its
	// handshake line (base64 DER), set when it was started with mTLS.
	ServerCert string `json:"serverCert,omitempty"`
	MTLS       bool   `json:"mtls"`
	// ProcStart tells the process from a later one with the same pid (on
	// Linux its start time in clock ticks since boot); 0 when unknown.
	ProcStart uint64 `json:"procStart,omitempty"`
	Exe       string `json:"exe"`
	SHA256    string `json:"sha256"` // of Exe, checked before it was started
	Dir       string `json:"dir"`    // its working directory
	// SocketDir is a private directory outside run/ made for the socket
	// when run/ is too deep for a unix socket path; removed at stop.
	SocketDir string `json:"socketDir,omitempty"`
	// Stdout and Log are the files its stdout and its stderr go to (see
	// OutFile and LogFile).
	Stdout    string    `json:"stdout,omitempty"`
	Log       string    `json:"log"`
	StartedAt time.Time `json:"startedAt"`
	// Env is what Options.Env and AllowEnv added to its environment (see
	// ExtraEnv): each NAME with the SHA-256 of its value, so that a later
	// call can tell whether it asks for the same variables (CheckEnv)
	// without the values, which may be secrets, being kept on disk.
	Env map[string]string `json:"env,omitempty"`
}

const startedSchema = 1

// ReattachConfig returns go-plugin's reattach configuration for p, with the
// negotiated protocol version.
func (s *StartedPlugin) ReattachConfig() (*plugin.ReattachConfig, error) {
	var addr net.Addr
	var err error
	switch s.Network {
	case "unix":
		addr, err = net.ResolveUnixAddr("unix", s.Address)
	case "tcp":
		addr, err = net.ResolveTCPAddr("tcp", s.Address)
	default:
		err = fmt.Errorf("unknown network %q", s.Network)
	}
	if err != nil {
		return nil, fmt.Errorf("started plugin %s@%s: %w", s.Name, s.Version, err)
	}
	return &plugin.ReattachConfig{
		Protocol:        plugin.Protocol(s.Protocol),
		ProtocolVersion: s.ProtocolVersion,
		Addr:            addr,
		Pid:             s.Pid,
	}, nil
}

// ErrNotStarted is wrapped when a plugin version has no started process.
var ErrNotStarted = errors.New("not started")

// Files of a started plugin in the home's run/ directory.
func stateFile(home store.Paths, name, version string) string {
	return home.StartedFile(name, version)
}

// LogFile is where a started plugin's stderr goes, its logs included:
// run/<name>@<version>.log. Like OutFile it is kept after the plugin stops
// (the next start truncates it) and removed with the version.
func LogFile(home store.Paths, name, version string) string {
	return home.LogFile(name, version)
}

// OutFile is where a started plugin's stdout goes:
// run/<name>@<version>.out. Its first line is go-plugin's handshake (Start
// reads it there); a Go plugin's later output on stdout goes through
// go-plugin's stdio stream instead, so little else ever lands in it.
func OutFile(home store.Paths, name, version string) string {
	return home.OutFile(name, version)
}

func lockFile(home store.Paths, name, version string) string {
	return home.RunLockFile(name, version)
}

// ReadStarted returns the record of a started name@version, whether or not
// its process still runs (see Alive). It wraps ErrNotStarted when there is
// none.
func ReadStarted(home store.Paths, name, version string) (*StartedPlugin, error) {
	if err := store.ValidName(name); err != nil {
		return nil, err
	}
	if !store.ValidVersion(version) {
		return nil, fmt.Errorf("%s@%s: bad version", name, version)
	}
	return readStateFile(stateFile(home, name, version))
}

// ErrBadRunFile is wrapped when a started plugin's run file
// (run/NAME@VERSION.json) does not parse: CleanStale removes it.
var ErrBadRunFile = errors.New("unreadable run file")

func readStateFile(path string) (*StartedPlugin, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", strings.TrimSuffix(filepath.Base(path), ".json"), ErrNotStarted)
	}
	if err != nil {
		return nil, err
	}
	var s StartedPlugin
	if err := json.Unmarshal(b, &s); err != nil || s.Schema != startedSchema || s.Pid <= 0 {
		return nil, fmt.Errorf("%s: %w", path, ErrBadRunFile)
	}
	return &s, nil
}

func writeState(home store.Paths, s *StartedPlugin) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return store.WriteFileAtomic(stateFile(home, s.Name, s.Version), append(b, '\n'), 0o600)
}

// Alive reports whether the started plugin's process still runs: its pid
// exists, is not a zombie, and (where the system tells) started when the
// record says.
func (s *StartedPlugin) Alive() bool { return processAlive(s.Pid, s.ProcStart) }

// Started lists the started plugins of a home whose processes still run,
// by name then version. Records of dead ones are skipped (CleanStale removes
// them).
func Started(home store.Paths) ([]StartedPlugin, error) {
	all, err := allStarted(home)
	if err != nil {
		return nil, err
	}
	var out []StartedPlugin
	for _, s := range all {
		if s.Alive() {
			out = append(out, s)
		}
	}
	return out, nil
}

// allStarted reads every record in run/, alive or not; unreadable ones are
// skipped.
func allStarted(home store.Paths) ([]StartedPlugin, error) {
	paths, err := recordPaths(home)
	if err != nil {
		return nil, err
	}
	var out []StartedPlugin
	for _, path := range paths {
		s, err := readStateFile(path)
		if err != nil {
			continue
		}
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Version < out[j].Version
	})
	return out, nil
}

// recordPaths lists the records of started plugins in run/
// (<name>@<version>.json).
func recordPaths(home store.Paths) ([]string, error) {
	entries, err := os.ReadDir(home.Run())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".json") && strings.Contains(e.Name(), "@") {
			out = append(out, filepath.Join(home.Run(), e.Name()))
		}
	}
	return out, nil
}

// StaleRunFile is a run file CleanStale found: the record of a started plugin
// whose process is gone, a record that cannot be read, or what a start
// killed midway left (Interrupted: its spawn file, and the processes it had
// created, which CleanStale ends).
type StaleRunFile struct {
	Path    string
	Name    string // empty for an unreadable record
	Version string
	Pid     int
	// Interrupted: a start of Name@Version was killed before it recorded
	// its plugin; Ended are the processes it had left running.
	Interrupted bool
	Ended       []int
}

// CleanStale ends the processes that starts killed midway left running (see
// SpawnTokenEnv), removes the run files of started plugins whose processes
// are gone (record and socket; the log stays until the next start) and
// unreadable records, and returns what it found. With dryRun it only
// reports.
func CleanStale(home store.Paths, dryRun bool) ([]StaleRunFile, error) {
	paths, err := recordPaths(home)
	if err != nil {
		return nil, err
	}
	var out []StaleRunFile
	for _, nv := range spawnRecords(home) {
		// A start under way holds the lock: its spawn file is no leftover.
		unlock, err := lockRun(home, nv[0], nv[1], 50*time.Millisecond)
		if err != nil {
			continue
		}
		pids, found := endInterruptedStart(home, nv[0], nv[1], dryRun)
		unlock()
		if found && len(pids) > 0 {
			out = append(out, StaleRunFile{Path: spawnFile(home, nv[0], nv[1]), Name: nv[0], Version: nv[1], Pid: pids[0], Interrupted: true, Ended: pids})
		}
	}
	for _, path := range paths {
		s, err := readStateFile(path)
		if err != nil {
			if errors.Is(err, ErrNotStarted) {
				continue
			}
			out = append(out, StaleRunFile{Path: path})
			if !dryRun {
				os.Remove(path)
			}
			continue
		}
		if s.Alive() {
			continue
		}
		if !dryRun {
			unlock, err := lockRun(home, s.Name, s.Version, time.Second)
			if err != nil {
				continue
			}
			// Re-read under the lock: a start may have replaced it.
			if s2, err := readStateFile(path); err == nil && !s2.Alive() {
				removeRunFiles(home, s2)
			}
			unlock()
		}
		out = append(out, StaleRunFile{Path: path, Name: s.Name, Version: s.Version, Pid: s.Pid})
	}
	return out, nil
}

// removeRunFiles removes a started plugin's record and socket; its log
// stays.
func removeRunFiles(home store.Paths, s *StartedPlugin) {
	if s.Network == "unix" && s.Address != "" {
		dir := filepath.Dir(s.Address)
		if dir == home.Run() || (s.SocketDir != "" && dir == s.SocketDir) {
			os.Remove(s.Address)
		}
	}
	if k := keeperSocket(home, s); k != "" {
		os.Remove(k) // its keeper exits with the plugin
	}
	removeSocketDir(home, s.SocketDir)
	os.Remove(stateFile(home, s.Name, s.Version))
}

// removeSocketDir removes dir, a start's socket directory named by a record
// in run/, only when it is one that start makes (run/sNNNN, or
// plugctl-run-NNNN in the temporary directory): a damaged or edited record
// naming any other directory must not have plugctl delete it.
func removeSocketDir(home store.Paths, dir string) {
	if dir == "" {
		return
	}
	dir = filepath.Clean(dir)
	parent, base := filepath.Dir(dir), filepath.Base(dir)
	if (parent == filepath.Clean(home.Run()) && strings.HasPrefix(base, "s")) ||
		(parent == filepath.Clean(os.TempDir()) && strings.HasPrefix(base, "plugctl-run-")) {
		os.RemoveAll(dir)
	}
}
