//go:build unix

package runtime

import (
	"context"
	"errors"
	"io"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// procRunner is go-plugin's runner.Runner for a plugin executable that plugctl
// starts itself. go-plugin's own command runner gives the plugin our stdin,
// signals only the direct child and, without a RunnerFunc, ignores
// UnixSocketConfig.TempDir; this one execs the binary directly with stdin on
// /dev/null, in its own process group, and kills the whole group.
type procRunner struct {
	name   string
	cmd    *exec.Cmd
	stdout io.ReadCloser
	stderr io.ReadCloser
	// killed is set by Launch when ctx ends during the start: a runner
	// not yet started then refuses to start.
	killed *atomic.Bool

	mu       sync.Mutex
	pid      int
	startErr error
	reaped   bool
	// exited is closed once the process has been reaped; waitErr is its
	// exit status.
	exited  chan struct{}
	waitErr error
	// leaderGone is closed once the leader has exited (not yet reaped) and
	// its group was killed.
	leaderGone chan struct{}
}

// pluginCmd is how every plugin is run, launched or started: path (the
// executable, or /proc/self/fd/N naming the verified file; see
// verifiedExec) exec'd directly, never through a shell, with argv[0] set to
// exe, stdin on /dev/null (`call … -` reads our stdin: the plugin must not)
// and the environment env (pluginEnv). The caller sets the output and
// SysProcAttr.
func pluginCmd(path, exe, dir string, env []string) *exec.Cmd {
	return &exec.Cmd{Path: path, Args: []string{exe}, Env: env, Dir: dir}
}

// newProcRunner prepares to run cmd (pluginCmd) in its own process group,
// with its stdout and stderr on pipes for go-plugin.
func newProcRunner(name string, cmd *exec.Cmd) (*procRunner, error) {
	cmd.SysProcAttr = sysProcAttr()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	return &procRunner{name: name, cmd: cmd, stdout: stdout, stderr: stderr, exited: make(chan struct{}), leaderGone: make(chan struct{})}, nil
}

func (r *procRunner) Start(context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	// Launch's ctx ended before go-plugin got here: start nothing.
	err := context.Canceled
	if r.killed == nil || !r.killed.Load() {
		first := true
		err = startTextBusy(func() error {
			if !first {
				if err := r.renew(); err != nil {
					return err
				}
			}
			first = false
			return r.cmd.Start()
		}, textBusyWait)
	}
	if err != nil {
		// exec.Cmd closes the pipes it made when Start fails.
		_ = r.stdout.Close()
		_ = r.stderr.Close()
		close(r.exited)
		r.reaped = true
		r.startErr = err
		r.waitErr = err
		return err
	}
	r.pid = r.cmd.Process.Pid
	if canWaitNoReap {
		go r.watch(r.pid)
	}
	return nil
}

// renew replaces cmd, whose Start failed, with a copy on new pipes: an
// exec.Cmd starts once.
func (r *procRunner) renew() error {
	_ = r.stdout.Close()
	_ = r.stderr.Close()
	c := r.cmd
	cmd := &exec.Cmd{Path: c.Path, Args: c.Args, Env: c.Env, Dir: c.Dir, SysProcAttr: c.SysProcAttr}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		_ = stdout.Close()
		return err
	}
	r.cmd, r.stdout, r.stderr = cmd, stdout, stderr
	return nil
}

// startTextBusy calls start, and again while it fails with ETXTBSY ("text
// file busy"), for up to wait. Exec fails so while any process holds the
// executable open for writing, and a process that writes files forks
// children: another goroutine's fork can hold a copy of a descriptor just
// opened to write the plugin (an install, a copy) until that child execs
// (go.dev/issue/22315). The window is short; a writer that keeps the file
// open still gets the error once wait is over.
func startTextBusy(start func() error, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	delay := time.Millisecond
	for {
		err := start()
		if !errors.Is(err, syscall.ETXTBSY) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(delay)
		delay = min(2*delay, 100*time.Millisecond)
	}
}

// textBusyWait bounds startTextBusy for a plugin's start.
const textBusyWait = 5 * time.Second

// watch waits for the leader to exit without reaping it and then kills its
// group: grandchildren left behind would otherwise keep the pipes open, and
// go-plugin waits for them to close before it notices that the plugin is
// gone. The unreaped leader keeps the process group id from being reused.
func (r *procRunner) watch(pid int) {
	waitExitNoReap(pid)
	r.mu.Lock()
	if !r.reaped {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
	}
	r.mu.Unlock()
	close(r.leaderGone)
	// Something outside the group (a grandchild in its own session) may
	// still hold the pipes; go-plugin would wait for them until its start
	// timeout, or forever in Kill.
	t := time.NewTimer(orphanPipeGrace)
	defer t.Stop()
	select {
	case <-r.exited:
	case <-t.C:
		r.closePipes()
	}
}

// orphanPipeGrace is how long the plugin's pipes may stay open after it
// exited before they are cut.
const orphanPipeGrace = 300 * time.Millisecond

// Wait is called by go-plugin once the plugin's stdout and stderr are at EOF.
func (r *procRunner) Wait(context.Context) error {
	r.mu.Lock()
	pid, reaped := r.pid, r.reaped
	r.mu.Unlock()
	if pid == 0 || reaped {
		<-r.exited
		return r.waitErr
	}
	if canWaitNoReap {
		<-r.leaderGone
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.reaped {
		return r.waitErr
	}
	// Without the watcher (no waitid), the group is killed once the pipes
	// are closed, which a plugin does by exiting.
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	r.waitErr = r.cmd.Wait()
	r.reaped = true
	close(r.exited)
	return r.waitErr
}

// Kill sends SIGKILL to the plugin's whole process group, grandchildren
// included, unless the leader was already reaped.
func (r *procRunner) Kill(context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pid == 0 || r.reaped {
		return nil
	}
	if err := syscall.Kill(-r.pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return nil
}

// closePipes unblocks go-plugin's readers when something outside the group
// (a grandchild that made its own session) still holds the plugin's pipes.
func (r *procRunner) closePipes() {
	_ = r.stdout.Close()
	_ = r.stderr.Close()
}

func (r *procRunner) Diagnose(context.Context) string { return "" }
func (r *procRunner) Stdout() io.ReadCloser           { return r.stdout }
func (r *procRunner) Stderr() io.ReadCloser           { return r.stderr }
func (r *procRunner) Name() string                    { return r.name }

func (r *procRunner) ID() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pid == 0 {
		return ""
	}
	return strconv.Itoa(r.pid)
}

// Pid returns the plugin's process id (0 before start).
func (r *procRunner) Pid() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pid
}

func (r *procRunner) PluginToHost(network, addr string) (string, string, error) {
	return network, addr, nil
}

func (r *procRunner) HostToPlugin(network, addr string) (string, string, error) {
	return network, addr, nil
}

// exitStatus describes how the process ended, once it has.
func (r *procRunner) exitStatus() (string, bool) {
	select {
	case <-r.exited:
		return exitStatus(r.waitErr), true
	default:
		return "", false
	}
}

// exitStatus describes how a process that was waited for ended.
func exitStatus(waitErr error) string {
	var ee *exec.ExitError
	switch {
	case errors.As(waitErr, &ee):
		return ee.ProcessState.String()
	case waitErr != nil:
		return waitErr.Error()
	}
	return "exit status 0"
}
