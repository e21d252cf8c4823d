package cmd_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// procgone FILE REGEX: the pid that REGEX's first group finds in FILE
// names a process that is gone (or a zombie) within a generous bound;
// with !, one that still runs.
func cmdProcGone(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: procgone FILE REGEX")
	}
	m := regexp.MustCompile(args[1]).FindStringSubmatch(ts.ReadFile(args[0]))
	if len(m) < 2 {
		ts.Fatalf("%s: no match for %s", args[0], args[1])
	}
	pid, err := strconv.Atoi(m[1])
	ts.Check(err)
	if neg {
		if !procRuns(pid) {
			ts.Fatalf("process %d is gone; want it running", pid)
		}
		return
	}
	deadline := time.Now().Add(10 * time.Second)
	for procRuns(pid) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			ts.Fatalf("process %d still runs 10s later", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// procRuns: pid exists and is not a zombie.
func procRuns(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true // no /proc: kill's answer stands
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(f) > 0 && f[0] != "Z" && f[0] != "X"
}

// homeProcs lists the running processes whose executable lies in the home
// $PLUGCTL_HOME: the plugins it runs (Linux only: /proc/PID/exe).
func homeProcs(ts *testscript.TestScript) []int {
	home, err := filepath.EvalSymlinks(ts.Getenv("PLUGCTL_HOME"))
	ts.Check(err)
	entries, err := os.ReadDir("/proc")
	ts.Check(err)
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		exe, err := os.Readlink("/proc/" + e.Name() + "/exe")
		if err != nil || !strings.HasPrefix(exe, home+string(filepath.Separator)) || !procRuns(pid) {
			continue
		}
		out = append(out, pid)
	}
	return out
}

// homeprocs -wait N: wait until at least N processes of the home run.
// homeprocs PSJSON: every process of the home is one that PSJSON (the
// output of plugctl ps -o json) lists, once those being killed are gone
// (bounded wait).
func cmdHomeProcs(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! homeprocs")
	}
	if len(args) == 2 && args[0] == "-wait" {
		n, err := strconv.Atoi(args[1])
		ts.Check(err)
		deadline := time.Now().Add(20 * time.Second)
		for len(homeProcs(ts)) < n {
			if time.Now().After(deadline) {
				ts.Fatalf("waited 20s for %d process(es) of the home; have %v", n, homeProcs(ts))
			}
			time.Sleep(10 * time.Millisecond)
		}
		return
	}
	if len(args) != 1 {
		ts.Fatalf("usage: homeprocs -wait N | homeprocs PSJSON")
	}
	var ps []struct {
		Pid int `json:"pid"`
	}
	ts.Check(json.Unmarshal([]byte(ts.ReadFile(args[0])), &ps))
	listed := map[int]bool{}
	for _, p := range ps {
		listed[p.Pid] = true
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var outside []int
		for _, pid := range homeProcs(ts) {
			if !listed[pid] {
				outside = append(outside, pid)
			}
		}
		if len(outside) == 0 {
			return
		}
		if time.Now().After(deadline) {
			for _, pid := range outside {
				syscall.Kill(pid, syscall.SIGKILL)
			}
			ts.Fatalf("processes of the home that ps does not list: %v (ps lists %v)", outside, slices.Sorted(mapKeys(listed)))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func mapKeys(m map[int]bool) func(func(int) bool) {
	return func(yield func(int) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// killstart N NAME: N times, run plugctl start NAME and kill it with
// SIGKILL at a moment that moves through the start (from at once to well
// after the plugin runs); a start that ends first is fine.
func cmdKillStart(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: killstart N NAME")
	}
	n, err := strconv.Atoi(args[0])
	ts.Check(err)
	exe, err := exec.LookPath("plugctl")
	ts.Check(err)
	env := append(os.Environ(), "PLUGCTL_HOME="+ts.Getenv("PLUGCTL_HOME"), "HOME="+ts.Getenv("HOME"))
	for i := 0; i < n; i++ {
		before := homeProcs(ts)
		c := exec.Command(exe, "start", args[1], "--timeout", "30s")
		c.Env, c.Dir = env, ts.Getenv("WORK")
		ts.Check(c.Start())
		// 0, 3, 6, … ms, and every third try only once a new process of
		// the home runs: the moments after the spawn are the ones that
		// matter.
		if i%3 == 2 {
			deadline := time.Now().Add(10 * time.Second)
			for time.Now().Before(deadline) {
				if slices.ContainsFunc(homeProcs(ts), func(pid int) bool { return !slices.Contains(before, pid) }) {
					break
				}
				time.Sleep(time.Millisecond)
			}
		} else {
			time.Sleep(time.Duration(i*3) * time.Millisecond)
		}
		_ = c.Process.Kill()
		_ = c.Wait()
	}
}
