package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/plugctl/plugctl/runtime"
	"github.com/plugctl/plugctl/store"
)

// Start starts target (NAME[@VERSION]) detached with f, in directory dir,
// and its keeper (StartKeeper); started is false when that version ran
// already, and then --env must match what it was started with
// (*runtime.EnvMismatchError).
func (r *Runner) Start(ctx context.Context, target string, f Flags, dir string) (st *runtime.StartedPlugin, started bool, err error) {
	rc, err := r.Home.ReadRef(target)
	if err != nil {
		return nil, false, err
	}
	opt, err := r.Options(rc.Name, f)
	if err != nil {
		return nil, false, err
	}
	opt.Dir = dir
	st, started, err = runtime.Start(ctx, runtime.SpecFromReceipt(r.Home, rc), opt)
	if err != nil {
		return nil, false, err
	}
	if !started && len(f.Env) > 0 {
		// It runs already, with the environment it was started with:
		// --env cannot reach it.
		if err := st.CheckEnv(opt, os.Environ()); err != nil {
			return nil, false, err
		}
	}
	r.StartKeeper(ctx, st)
	return st, started, nil
}

// StartKeeper starts the keeper of the started plugin st (KeeperCmd, in a
// session of its own, its stderr appended to the plugin's log) unless one
// answers, and waits until it listens or exits, or ctx ends, so that the
// calls after it find it. A keeper that does not come up costs nothing but
// speed: calls attach to the plugin themselves.
func (r *Runner) StartKeeper(ctx context.Context, st *runtime.StartedPlugin) {
	if r.KeeperCmd == nil || st.Keeper(r.Home) != "" {
		return
	}
	c, err := r.KeeperCmd(st)
	if err != nil {
		r.remark("plugctl: no keeper for %s@%s: %v\n", st.Name, st.Version, err)
		return
	}
	log, err := os.OpenFile(st.Log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return
	}
	defer log.Close()
	c.Stderr = log
	c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := c.Start(); err != nil {
		r.remark("plugctl: no keeper for %s@%s: %v\n", st.Name, st.Version, err)
		return
	}
	exited := make(chan struct{})
	go func() { _ = c.Wait(); close(exited) }()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for st.Keeper(r.Home) == "" {
		select {
		case <-tick.C:
			continue
		case <-exited: // it failed (its error is in the log)
		case <-ctx.Done():
		}
		r.remark("plugctl: the keeper of %s@%s did not come up (see %s); calls attach to the plugin themselves\n", st.Name, st.Version, st.Log)
		return
	}
}

// Targets returns the running plugins that NAME[@VERSION] args (or all)
// name, and the args that name an installed plugin or version that does
// not run; records of dead ones are removed first. An arg that names
// nothing installed is an error wrapping store.ErrNotInstalled.
func (r *Runner) Targets(args []string, all bool) (running []runtime.StartedPlugin, idle []string, err error) {
	if _, err := runtime.CleanStale(r.Home, false); err != nil {
		return nil, nil, err
	}
	live, err := runtime.Started(r.Home)
	if err != nil {
		return nil, nil, err
	}
	if all {
		return live, nil, nil
	}
	for _, arg := range args {
		name, version, err := store.ParseRef(arg, false)
		if err != nil {
			return nil, nil, err
		}
		n := 0
		for _, s := range live {
			if s.Name == name && (version == "" || s.Version == version) {
				running = append(running, s)
				n++
			}
		}
		if n > 0 {
			continue
		}
		if version != "" {
			if _, err := r.Home.ReadReceipt(name, version); err != nil {
				return nil, nil, err
			}
		} else if rs, err := r.Home.Versions(name); err != nil {
			return nil, nil, err
		} else if len(rs) == 0 {
			return nil, nil, fmt.Errorf("%s: %w", name, store.ErrNotInstalled)
		}
		idle = append(idle, arg)
	}
	return running, idle, nil
}

// RunningError refuses to change a version that runs started: it must be
// stopped first (or force given).
type RunningError struct {
	Name, Version string
	Pid           int
}

func (e *RunningError) Error() string {
	return fmt.Sprintf("%s@%s is running (started, pid %d)", e.Name, e.Version, e.Pid)
}

// StopRunning stops name's started versions (version "" means all of
// them) when force, and returns them; without force the first one running
// is a *RunningError. Either way records of dead ones are removed
// (ClearDead).
func (r *Runner) StopRunning(ctx context.Context, name, version string, force bool) (stopped []runtime.StartedPlugin, err error) {
	if _, err := runtime.CleanStale(r.Home, false); err != nil {
		return nil, err
	}
	live, err := runtime.Started(r.Home)
	if err != nil {
		return nil, err
	}
	for _, s := range live {
		if s.Name != name || (version != "" && s.Version != version) {
			continue
		}
		if !force {
			return stopped, &RunningError{Name: s.Name, Version: s.Version, Pid: s.Pid}
		}
		if _, err := runtime.Stop(ctx, r.Home, s.Name, s.Version); err != nil && !errors.Is(err, runtime.ErrNotStarted) {
			return stopped, err
		}
		stopped = append(stopped, s)
	}
	r.ClearDead(ctx, name, version)
	return stopped, nil
}

// ClearDead removes the run records of name's installed versions (version
// "" means all of them) whose process died, so that removing a version
// leaves nothing of it in run/ (install removes the rest once no record
// says it runs).
func (r *Runner) ClearDead(ctx context.Context, name, version string) {
	versions := []string{version}
	if version == "" {
		rs, _ := r.Home.Versions(name)
		versions = versions[:0]
		for _, rc := range rs {
			versions = append(versions, rc.Version)
		}
	}
	for _, v := range versions {
		if st, err := runtime.ReadStarted(r.Home, name, v); err == nil && !st.Alive() {
			_, _ = runtime.Stop(ctx, r.Home, name, v)
		}
	}
}
