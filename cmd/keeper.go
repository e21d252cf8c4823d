package cmd

import (
	"context"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"

	"github.com/plugctl/plugctl/runtime"
	"github.com/plugctl/plugctl/store"
)

// keeperCmd is the name of the hidden command that `start` runs detached
// beside a started plugin: runtime.Keep, which holds a session with the
// plugin so that each call makes one round trip on a unix socket instead of
// a new go-plugin session (docs/commands.md, "The keeper").
const keeperCmd = "__keep"

func newKeepCmd(g *Global) *cobra.Command {
	return &cobra.Command{
		Use:    keeperCmd + " NAME@VERSION",
		Short:  "Hold a session with a started plugin for calls (run by start)",
		Hidden: true,
		Args:   args(1, 1),
		RunE: func(cmd *cobra.Command, a []string) error {
			p, err := g.Paths()
			if err != nil {
				return err
			}
			name, version, err := store.ParseRef(a[0], true)
			if err != nil {
				return err
			}
			r, err := p.ReadReceipt(name, version)
			if err != nil {
				return err
			}
			// Its stderr is the plugin's log file (ensureKeeper), which
			// outlives any call: lines carry their time. What the plugin
			// prints through go-plugin's stdio stream (logged at Info), and
			// the logs of $broker helpers it launches, go there at any
			// --log-level.
			level := g.logLevel()
			if level == hclog.Off || level > hclog.Info {
				level = hclog.Info
			}
			logger := hclog.New(&hclog.LoggerOptions{Output: g.IO.ErrOut, Level: level})
			return runtime.Keep(cmd.Context(), p, r, runtime.Options{Home: p, Logger: logger})
		},
	}
}

// ensureKeeper starts the keeper of the started plugin st unless one
// answers, and waits until it listens or exits, or ctx ends (start's
// timeout), so that the calls after start find it. A keeper that does not
// come up costs nothing but speed: calls attach to the plugin themselves.
func (g *Global) ensureKeeper(ctx context.Context, p store.Paths, st *runtime.StartedPlugin) {
	if st.Keeper(p) != "" {
		return
	}
	exe, err := os.Executable()
	if err != nil {
		return
	}
	log, err := os.OpenFile(st.Log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return
	}
	defer log.Close()
	c := exec.Command(exe, "--home", p.Home, keeperCmd, st.Name+"@"+st.Version, "--log-level", g.logLevel().String())
	c.Args[0] = "plugctl"
	c.Stderr = log
	c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := c.Start(); err != nil {
		if g.Verbose {
			g.Infof("plugctl: no keeper for %s@%s: %v\n", st.Name, st.Version, err)
		}
		return
	}
	exited := make(chan struct{})
	go func() { _ = c.Wait(); close(exited) }()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for st.Keeper(p) == "" {
		select {
		case <-tick.C:
			continue
		case <-exited: // it failed (its error is in the log)
		case <-ctx.Done():
		}
		if g.Verbose {
			g.Infof("plugctl: the keeper of %s@%s did not come up (see %s); calls attach to the plugin themselves\n", st.Name, st.Version, st.Log)
		}
		return
	}
}

// callKept makes the call through the keeper of the started version r,
// when it has one; done is false when it has not, and nothing was sent.
func (g *Global) callKept(ctx context.Context, p store.Paths, r *store.Receipt, o *callOptions, args []byte, co runtime.CallOptions, emit func([]byte) error) (done bool, err error) {
	st, err := runtime.ReadStarted(p, r.Name, r.Version)
	if err != nil {
		return false, nil
	}
	done, err = st.CallKeeper(ctx, p, r, o.Method, args, co, emit)
	if done && g.Verbose {
		g.Infof("plugctl: reattached to %s@%s (pid %d)\n", r.Name, r.Version, st.Pid)
		g.Infof("plugctl: called through its keeper (%s)\n", st.Keeper(p))
	}
	return done, err
}
