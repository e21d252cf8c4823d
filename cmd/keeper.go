package cmd

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/plugctl/plugctl/internal/fastpath"
	"github.com/plugctl/plugctl/internal/keepwire"
	"github.com/plugctl/plugctl/internal/prestart"
	"github.com/plugctl/plugctl/runtime"
	"github.com/plugctl/plugctl/store"
)

// keeperCmd is the name of the hidden command that `start` runs detached
// beside a started plugin: runtime.Keep, which holds a session with the
// plugin so that each call makes one round trip on a unix socket instead of
// a new go-plugin session (README.md, Warm plugins and health).
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
			name, version, err := splitExact(a[0], true)
			if err != nil {
				return err
			}
			r, err := p.ReadReceipt(name, version)
			if err != nil {
				return err
			}
			return runtime.Keep(cmd.Context(), p, r, runtime.Options{Home: p})
		},
	}
}

// ensureKeeper starts the keeper of the started plugin st unless one
// answers, and waits until it listens or exits, or ctx ends (start's
// timeout), so that the calls after start find it. A keeper that does not
// come up costs nothing but speed: calls attach to the plugin themselves.
func (g *Global) ensureKeeper(ctx context.Context, p store.Paths, st *runtime.StartedPlugin) {
	sock := runtime.KeeperSocket(p, st)
	if sock == "" || keeperAnswers(sock) {
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
	c := exec.Command(exe, "--home", p.Home, keeperCmd, st.Name+"@"+st.Version)
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
	for !keeperAnswers(sock) {
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

// answeringKeeper is the socket of s's keeper when one answers, else "".
func answeringKeeper(p store.Paths, s *runtime.StartedPlugin) string {
	if sock := runtime.KeeperSocket(p, s); sock != "" && keeperAnswers(sock) {
		return sock
	}
	return ""
}

func keeperAnswers(sock string) bool {
	c, err := keepwire.Dial(sock)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// callKept makes the call through the keeper of the started version r,
// when it has one; done is false when it has not, and nothing was sent.
func (g *Global) callKept(ctx context.Context, p store.Paths, r *store.Receipt, o *callOptions, args []byte, emit func([]byte) error) (done bool, err error) {
	st, err := runtime.ReadStarted(p, r.Name, r.Version)
	if err != nil {
		return false, nil
	}
	done, err = runtime.CallKept(ctx, p, st, r, o.Method, args, o.Run.callOptions(o.Headers), emit)
	if done && g.Verbose {
		g.Infof("plugctl: reattached to %s@%s (pid %d)\n", r.Name, r.Version, st.Pid)
		g.Infof("plugctl: called through its keeper (%s)\n", runtime.KeeperSocket(p, st))
	}
	return done, err
}

// reportFastPath reports a call that the fast path made while plugctl
// initialised (internal/fastpath), and that failed or was interrupted, as
// the call command reports its own.
func reportFastPath(g *Global, res *fastpath.Result) int {
	if res.Interrupted {
		fmt.Fprintln(g.IO.ErrOut, "plugctl: interrupted")
		return ExitInterrupted
	}
	return reportError(g, runtime.KeptError(res.Name, res.Err))
}

// endPrestart kills the plugin that the fast path started early for a cold
// call if the command did not adopt it, and with PLUGCTL_FASTPATH=trace
// says what became of it.
func endPrestart(g *Global) {
	prestart.Discard()
	if os.Getenv(fastpath.EnvFastPath) == "trace" {
		if s := prestart.Report(); s != "" {
			fmt.Fprintln(g.IO.ErrOut, "plugctl: fast path: "+s)
		}
	}
}
