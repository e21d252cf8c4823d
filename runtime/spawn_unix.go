//go:build unix

package runtime

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/plugctl/plugctl/store"
)

// A start is recorded before it runs anything. Start writes
// run/NAME@VERSION.spawn (store.SpawnFile) under the version's run lock
// before it creates the plugin's process, gives the process a token in its
// environment (SpawnTokenEnv), adds the pid once the process exists, and
// removes the file once the plugin's record is written. A start killed at
// any moment in between (kill -9 cannot be caught) therefore leaves a spawn
// file and no lock: CleanStale (run by ps, stop, doctor and Start itself)
// then ends every process that carries the token (on Linux, found through
// /proc/PID/environ; children the plugin started carry it too) or has the
// recorded pid and start time, and removes the file. A start still running
// holds the lock, and its spawn file is left alone.

// SpawnTokenEnv is the variable that carries a started plugin's spawn
// token: it marks the processes of one start, so that an interrupted start
// can be cleaned up whatever moment it was killed at.
const SpawnTokenEnv = "PLUGCTL_START_TOKEN"

type spawnRecord struct {
	Token     string `json:"token"`
	SocketDir string `json:"socketDir,omitempty"` // made for this start
	Pid       int    `json:"pid,omitempty"`
	ProcStart uint64 `json:"procStart,omitempty"`
}

func spawnFile(home store.Paths, name, version string) string {
	return home.SpawnFile(name, version)
}

// newSpawn records a start of name@version about to run its plugin. The
// caller holds the version's run lock.
func newSpawn(home store.Paths, name, version, socketDir string) (*spawnRecord, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	s := &spawnRecord{Token: hex.EncodeToString(b), SocketDir: socketDir}
	return s, s.write(home, name, version)
}

func (s *spawnRecord) write(home store.Paths, name, version string) error {
	b, _ := json.Marshal(s)
	return store.WriteFileAtomic(spawnFile(home, name, version), append(b, '\n'), 0o600)
}

func (s *spawnRecord) env() string { return SpawnTokenEnv + "=" + s.Token }

// endInterruptedStart ends what a killed start of name@version left running
// and removes its spawn file; the caller holds the version's run lock. It
// returns the processes found (with dryRun, only found), and false when no
// start of it was interrupted.
func endInterruptedStart(home store.Paths, name, version string, dryRun bool) ([]int, bool) {
	path := spawnFile(home, name, version)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, false
	}
	var s spawnRecord
	_ = json.Unmarshal(b, &s)
	// Killed after the record was written: the plugin is a started one.
	if st, err := ReadStarted(home, name, version); err == nil && st.Alive() && (s.Pid == 0 || s.Pid == st.Pid) {
		if !dryRun {
			os.Remove(path)
		}
		return nil, true
	}
	var pids []int
	if s.Pid > 0 && processAlive(s.Pid, s.ProcStart) {
		pids = append(pids, s.Pid)
	}
	if s.Token != "" {
		for _, pid := range envProcs(SpawnTokenEnv + "=" + s.Token) {
			if pid != s.Pid {
				pids = append(pids, pid)
			}
		}
	}
	if dryRun {
		return pids, true
	}
	for _, pid := range pids {
		// setsid made the plugin a group leader; its children are in its
		// group, or carry the token themselves.
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	deadline := time.Now().Add(reapGrace)
	for _, pid := range pids {
		for processAlive(pid, 0) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
	removeHandshakeSocket(home, OutFile(home, name, version))
	removeSocketDir(home, s.SocketDir)
	os.Remove(path)
	return pids, true
}

// removeHandshakeSocket removes the unix socket that the handshake line in
// the stdout file out names, when it is in run/ (a plugin killed before
// its record named it leaves it behind).
func removeHandshakeSocket(home store.Paths, out string) {
	b, err := os.ReadFile(out)
	if err != nil {
		return
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Split(strings.TrimSpace(string(line)), "|")
	if len(f) >= 4 && f[2] == "unix" && filepath.Dir(f[3]) == home.Run() {
		os.Remove(f[3])
	}
}

// spawnRecords lists the versions with a spawn file in run/.
func spawnRecords(home store.Paths) [][2]string {
	entries, _ := os.ReadDir(home.Run())
	var out [][2]string
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".spawn")
		if !ok {
			continue
		}
		if name, version, ok := store.SplitAt(id); ok {
			out = append(out, [2]string{name, version})
		}
	}
	return out
}
