package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"

	"github.com/plugctl/plugctl/internal/runner"
	"github.com/plugctl/plugctl/runtime"
	"github.com/plugctl/plugctl/store"
)

// Warm plugins (start, stop, ps, logs) and health.

// startedJSON is one started plugin in ps, start and stop output.
type startedJSON struct {
	Name            string    `json:"name"`
	Version         string    `json:"version"`
	Pid             int       `json:"pid"`
	Protocol        string    `json:"protocol"`
	ProtocolVersion int       `json:"protocolVersion"`
	Network         string    `json:"network"`
	Address         string    `json:"address"`
	StartedAt       time.Time `json:"startedAt"`
	Log             string    `json:"log"`
	Stdout          string    `json:"stdout,omitempty"`
	Dir             string    `json:"dir"`
	MTLS            bool      `json:"mtls"`
	Active          bool      `json:"active"`
	// Keeper is the socket of its keeper when one answers: calls go
	// through it; absent, calls attach themselves.
	Keeper  string `json:"keeper,omitempty"`
	Started *bool  `json:"started,omitempty"` // start: false when it already ran
}

func toStartedJSON(p store.Paths, s *runtime.StartedPlugin) startedJSON {
	active, _ := p.Active(s.Name)
	return startedJSON{
		Name: s.Name, Version: s.Version, Pid: s.Pid, Protocol: s.Protocol, ProtocolVersion: s.ProtocolVersion,
		Network: s.Network, Address: s.Address, StartedAt: s.StartedAt, Log: s.Log, Stdout: s.Stdout, Dir: s.Dir, MTLS: s.MTLS,
		Active: active == s.Version, Keeper: s.Keeper(p),
	}
}

func newStartCmd(g *Global) *cobra.Command {
	var rf runFlags
	c := &cobra.Command{
		Use:   "start NAME[@VERSION]...",
		Short: "Start a plugin detached and keep it warm for call, describe and health",
		Long: `Start the active (or given) version of an installed plugin in the background,
detached from this terminal (its own session, stdin on /dev/null, stdout to
$PLUGCTL_HOME/run/NAME@VERSION.out, whose first line must be go-plugin's
handshake, stderr to run/NAME@VERSION.log), in the current directory.
call, describe and health then reattach to it instead of launching a fresh
process, as long as it runs the version they would use. Several versions of
one plugin may run at once. Starting a version that already runs does
nothing and says so. The executable is hash-checked before it starts.`,
		Example: `  plugctl start kv
  plugctl call kv Put '{"key": "a", "value": "1"}'
  plugctl call kv Get '{"key": "a"}'      # {"value":"1"}: same process
  plugctl start greeter@2.0.0
  plugctl ps
  plugctl stop --all`,
		Args: args(1, -1),
		RunE: func(cmd *cobra.Command, a []string) error {
			p, err := g.Paths()
			if err != nil {
				return err
			}
			ctx, cancel := g.withRunTimeout(cmd.Context())
			defer cancel()
			wd, _ := os.Getwd()
			run := g.runner(p)
			out := []startedJSON{}
			for _, arg := range a {
				st, started, err := run.Start(ctx, arg, rf.flags(), wd)
				if err != nil {
					return err
				}
				j := toStartedJSON(p, st)
				j.Started = &started
				out = append(out, j)
				if g.JSON() {
					continue
				}
				if started {
					g.Printf("started %s@%s (pid %d, %s), log %s\n", st.Name, st.Version, st.Pid, st.Protocol, st.Log)
				} else {
					g.Printf("%s@%s already runs (pid %d)\n", st.Name, st.Version, st.Pid)
				}
			}
			if g.JSON() {
				return g.PrintJSON(out)
			}
			return nil
		},
	}
	c.Flags().StringVar(&rf.MTLS, "mtls", "", "override the index's mtls: auto, true or false")
	c.Flags().StringArrayVar(&rf.Env, "env", nil, "pass NAME from plugctl's environment to the plugin, or set NAME=VALUE (repeatable; NAME* passes a prefix)")
	return c
}

func newStopCmd(g *Global) *cobra.Command {
	var all bool
	c := &cobra.Command{
		Use:   "stop NAME[@VERSION]... | --all",
		Short: "Stop started plugins: gracefully, then by force",
		Long: `Ask a started plugin to exit (go-plugin's GRPCController.Shutdown or net/rpc's
Control.Quit), kill its process group if it is still there a few seconds
later, and remove its run files (the log stays until the next start). A
plugin without such a controller gets SIGTERM on its process group instead,
and is killed half a second later if it is still there. A bare
NAME stops every started version of it; --all stops every started plugin.
An installed plugin (or version) that is not running is not an error: stop
says "not running" and exits 0, so scripts can stop unconditionally; a name
that is not installed is exit 3.`,
		Example: "  plugctl stop kv\n  plugctl stop greeter@2.0.0\n  plugctl stop --all",
		RunE: func(cmd *cobra.Command, a []string) error {
			if all == (len(a) > 0) {
				return usageErrorf("stop: give NAME[@VERSION]... or --all")
			}
			p, err := g.Paths()
			if err != nil {
				return err
			}
			targets, idle, err := g.runner(p).Targets(a, all)
			if err != nil {
				return err
			}
			for _, arg := range idle {
				g.Infof("%s is not running\n", arg)
			}
			ctx, cancel := g.withRunTimeout(cmd.Context())
			defer cancel()
			out := []startedJSON{}
			var firstErr error
			for _, s := range targets {
				st, err := runtime.Stop(ctx, p, s.Name, s.Version)
				if errors.Is(err, runtime.ErrNotStarted) {
					continue // stopped meanwhile by someone else
				}
				if err != nil {
					if firstErr == nil {
						firstErr = err
					}
					continue
				}
				out = append(out, toStartedJSON(p, st))
				if !g.JSON() {
					g.Printf("stopped %s@%s (pid %d)\n", st.Name, st.Version, st.Pid)
				}
			}
			if g.JSON() {
				if err := g.PrintJSON(out); err != nil {
					return err
				}
			}
			return firstErr
		},
	}
	c.Flags().BoolVar(&all, "all", false, "stop every started plugin")
	return c
}

func newPsCmd(g *Global) *cobra.Command {
	return &cobra.Command{
		Use:   "ps",
		Short: "List started plugins",
		Long: `List the plugins started with plugctl start that still run. Records of
plugins whose process died are removed on the way.`,
		Args: args(0, 0),
		RunE: func(cmd *cobra.Command, a []string) error {
			p, err := g.Paths()
			if err != nil {
				return err
			}
			running, _, err := g.runner(p).Targets(nil, true)
			if err != nil {
				return err
			}
			out := make([]startedJSON, 0, len(running))
			for i := range running {
				out = append(out, toStartedJSON(p, &running[i]))
			}
			if g.JSON() {
				return g.PrintJSON(out)
			}
			if len(out) == 0 {
				g.Printf("no started plugins\n")
				return nil
			}
			return g.printTable("NAME\tVERSION\tPID\tPROTOCOL\tUPTIME\tADDRESS", func(w io.Writer) {
				for _, s := range out {
					v := s.Version
					if s.Active {
						v += "*"
					}
					fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\t%s\n", s.Name, v, s.Pid, s.Protocol,
						time.Since(s.StartedAt).Truncate(time.Second), s.Network+":"+s.Address)
				}
			})
		},
	}
}

func newLogsCmd(g *Global) *cobra.Command {
	var follow bool
	var level string
	c := &cobra.Command{
		Use:   "logs NAME[@VERSION]",
		Short: "Print a started plugin's log",
		Long: `Print the log of a started plugin: its stdout (go-plugin's handshake
line, and anything it prints there outside Serve), then its stderr (its
hclog output and anything it prints before Serve redirects its standard
streams). A bare NAME prints the log of every started version; a plugin no
longer running still has the log of its last run. -f follows one log as it
grows (Ctrl-C ends). --level LEVEL leaves out hclog lines below LEVEL
(trace, debug, info, warn, error): the plugin's JSON log lines by their
@level, the keeper's by their [LEVEL]; every other line is kept.`,
		Example: "  plugctl logs kv\n  plugctl logs greeter@2.0.0 -f\n  plugctl logs kv --level warn",
		Args:    args(1, 1),
		RunE: func(cmd *cobra.Command, a []string) error {
			p, err := g.Paths()
			if err != nil {
				return err
			}
			name, version, err := store.ParseRef(a[0], false)
			if err != nil {
				return err
			}
			minLevel := hclog.Trace // everything
			if level != "" {
				var err error
				if minLevel, err = parseLevel("--level", level, false); err != nil {
					return err
				}
			}
			logs, err := runner.Logs(p, name, version)
			if err != nil {
				return err
			}
			if len(logs) == 0 {
				return &exitError{code: ExitNotFound, msg: fmt.Sprintf("%s: no log (it was never started)", a[0]), hint: "plugctl start " + a[0]}
			}
			if follow && len(logs) > 1 {
				var vs []string
				for _, l := range logs {
					vs = append(vs, l.Version)
				}
				return usageErrorf("-f follows one log: name the version (%s@%s)", name, strings.Join(vs, ", "+name+"@"))
			}
			for i, l := range logs {
				if len(logs) > 1 {
					if i > 0 {
						fmt.Fprintln(g.IO.Out)
					}
					fmt.Fprintf(g.IO.Out, "==> %s@%s <==\n", name, l.Version)
				}
				if follow {
					return runner.FollowLog(cmd.Context(), g.IO.Out, minLevel, l.Files...)
				}
				if err := runner.CopyLog(g.IO.Out, minLevel, l.Files...); err != nil {
					return err
				}
			}
			return nil
		},
	}
	c.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing what is appended to the log")
	c.Flags().StringVar(&level, "level", "", "print hclog lines at this level or above only (trace, debug, info, warn, error); other lines are kept")
	return c
}

type healthJSON struct {
	Name      string  `json:"name"`
	Version   string  `json:"version,omitempty"`
	Status    string  `json:"status"` // runner.Healthy, Unhealthy or NotInstalled
	LatencyMs float64 `json:"latencyMs"`
	StartMs   float64 `json:"startMs"`
	Warm      bool    `json:"warm"`
	Pid       int     `json:"pid,omitempty"`
	Error     string  `json:"error,omitempty"`
}

func toHealthJSON(h runner.Health) healthJSON {
	j := healthJSON{Name: h.Name, Version: h.Version, Status: h.Status, LatencyMs: ms(h.Latency), StartMs: ms(h.Start), Warm: h.Warm, Pid: h.Pid}
	if h.Err != nil {
		j.Error = h.Err.Error()
	}
	return j
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func newHealthCmd(g *Global) *cobra.Command {
	var rf runFlags
	c := &cobra.Command{
		Use:   "health [NAME[@VERSION]...]",
		Short: "Launch or reattach to plugins and check that they answer",
		Long: `For each plugin (default: the active version of every installed plugin),
reattach to it when it was started (warm) or launch it, complete go-plugin's
handshake, and probe its health: gRPC's grpc.health.v1 (go-plugin's service
"plugin") or net/rpc's Control.Ping. Prints status and latency per plugin;
latencyMs is the probe's round trip, startMs the launch or reattach.
Exits 5 when any plugin is unhealthy, else 3 when a named one is not
installed. Plugins are checked all at once; --timeout (default 60s) bounds
the whole command, and a plugin that has not completed its handshake or
answered by then is killed and reported unhealthy ("timed out") while the
others are reported as they are.`,
		Example: "  plugctl health\n  plugctl health kv greeter@2.0.0 -o json",
		RunE: func(cmd *cobra.Command, a []string) error {
			p, err := g.Paths()
			if err != nil {
				return err
			}
			targets := a
			if len(targets) == 0 {
				names, err := p.Names()
				if err != nil {
					return err
				}
				for _, n := range names {
					if v, _ := p.Active(n); v != "" {
						targets = append(targets, n)
					}
				}
			}
			for _, t := range targets {
				if _, _, err := store.ParseRef(t, false); err != nil {
					return err
				}
			}
			ctx, cancel := g.withRunTimeout(cmd.Context())
			defer cancel()
			// The checks share one stderr, through a lock: plugins' output
			// at -v, warnings and remarks come out whole lines at a time.
			cg := *g
			cg.IO.ErrOut = &lockedWriter{w: g.IO.ErrOut}
			out := []healthJSON{}
			unhealthy, missing := 0, 0
			for _, h := range cg.runner(p).Health(ctx, targets, rf.flags()) {
				out = append(out, toHealthJSON(h))
				switch h.Status {
				case runner.Unhealthy:
					unhealthy++
				case runner.NotInstalled:
					missing++
				}
			}
			if g.JSON() {
				if err := g.PrintJSON(out); err != nil {
					return err
				}
			} else if !g.Quiet {
				if len(out) == 0 {
					g.Printf("no plugins installed\n")
				}
				tw := newTable(g.IO.Out)
				for _, h := range out {
					id := h.Name
					if h.Version != "" {
						id += "@" + h.Version
					}
					how := ""
					if h.Status != runner.NotInstalled {
						how = fmt.Sprintf("%.1fms", h.LatencyMs)
						if h.Warm {
							how += " (warm)"
						}
					}
					line := fmt.Sprintf("%s\t%s\t%s", h.Status, id, how)
					if h.Error != "" {
						line += "\t" + h.Error
					}
					fmt.Fprintln(tw, line)
				}
				tw.Flush()
			}
			switch {
			case unhealthy > 0:
				return &exitError{code: ExitPlugin, msg: fmt.Sprintf("%d plugin(s) unhealthy", unhealthy), hint: "run with -v to see the plugins' output"}
			case missing > 0:
				return &exitError{code: ExitNotFound, msg: fmt.Sprintf("%d plugin(s) not installed", missing), hint: "run plugctl list to see what is installed"}
			}
			return nil
		},
	}
	rf.bind(c)
	return c
}

// lockedWriter serialises writes to w from several goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// testPluginLog is set only in the test binary (testhooks_test.go): where
// the plugins of a test script also log, shown when the script fails.
var testPluginLog = func() io.Writer { return nil }

// stopRunning refuses op on name's started versions (version "" means all
// of them) unless force, which stops them first.
func (g *Global) stopRunning(ctx context.Context, p store.Paths, name, version string, force bool, op string) error {
	stopped, err := g.runner(p).StopRunning(ctx, name, version, force)
	for _, s := range stopped {
		g.Infof("stopped %s@%s (pid %d)\n", s.Name, s.Version, s.Pid)
	}
	var re *runner.RunningError
	if errors.As(err, &re) {
		return &exitError{code: ExitError, msg: re.Error(), hint: fmt.Sprintf("plugctl stop %s@%s first, or plugctl %s --force", re.Name, re.Version, op)}
	}
	return err
}
