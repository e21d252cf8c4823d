package cmd

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"

	"github.com/plugctl/plugctl/runtime"
	"github.com/plugctl/plugctl/store"
)

// IOStreams are the streams a command reads and writes; tests substitute
// buffers.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
}

// Global holds the flags every command takes, and what is derived from them.
type Global struct {
	IO       IOStreams
	Home     string
	Output   string
	Verbose  bool
	LogLevel string
	Quiet    bool
	Timeout  time.Duration
	Offline  bool
	// InheritEnv gives plugins plugctl's whole environment (--inherit-env).
	InheritEnv bool

	paths *store.Paths
}

// Paths returns the store paths of the selected home: --home, then
// $PLUGCTL_HOME, then ~/.plugins.
func (g *Global) Paths() (store.Paths, error) {
	if g.paths != nil {
		return *g.paths, nil
	}
	home := g.Home
	if home == "" {
		h, err := store.DefaultHome()
		if err != nil {
			return store.Paths{}, err
		}
		home = h
	}
	p, err := store.New(home)
	if err != nil {
		return store.Paths{}, err
	}
	g.paths = &p
	return p, nil
}

// logLevel is the level of the host logger that plugins' logs are
// forwarded to: --log-level, else debug at -v, else off.
// parseLevel reads a log level name (trace, debug, info, warn, error, and
// off when allowOff), the one rule for --log-level and logs --level.
func parseLevel(flag, name string, allowOff bool) (hclog.Level, error) {
	lv := hclog.LevelFromString(name)
	switch {
	case lv >= hclog.Trace && lv <= hclog.Error:
		return lv, nil
	case lv == hclog.Off && allowOff:
		return lv, nil
	case allowOff:
		return hclog.NoLevel, usageErrorf("%s %q: want trace, debug, info, warn, error or off", flag, name)
	}
	return hclog.NoLevel, usageErrorf("%s %q: want trace, debug, info, warn or error", flag, name)
}

func (g *Global) logLevel() hclog.Level {
	switch {
	case g.LogLevel != "":
		return hclog.LevelFromString(g.LogLevel)
	case g.Verbose:
		return hclog.Debug
	}
	return hclog.Off
}

// logger is the host logger of the plugins a command runs: go-plugin's
// lines and the plugins' logs on stderr, at logLevel; when that is off,
// runtime's warnings only.
func (g *Global) logger() hclog.Logger {
	opts := &hclog.LoggerOptions{Output: g.IO.ErrOut, Level: g.logLevel(), DisableTime: true}
	var sinks []*hclog.LoggerOptions
	if opts.Level == hclog.Off {
		// Nothing a plugin prints is shown, and the logger says so (its
		// level is Off: runtime then does not wait for a plugin's output
		// to drain); runtime's own warnings (plain TCP) still show, through
		// a sink that keeps only them.
		sinks = append(sinks, &hclog.LoggerOptions{Output: g.IO.ErrOut, Level: hclog.Warn, DisableTime: true, Exclude: notHostWarning})
	}
	if w := testPluginLog(); w != nil {
		// The test binary also keeps what -v would show, for a failed script.
		sinks = append(sinks, &hclog.LoggerOptions{Output: w, Level: hclog.Debug, DisableTime: true})
	}
	if len(sinks) == 0 {
		return hclog.New(opts)
	}
	l := hclog.NewInterceptLogger(opts)
	for _, s := range sinks {
		l.RegisterSink(hclog.NewSinkAdapter(s))
	}
	return l
}

// notHostWarning leaves out every line but runtime's own warnings.
func notHostWarning(_ hclog.Level, _ string, args ...any) bool {
	for i := 0; i+1 < len(args); i += 2 {
		if args[i] == runtime.HostWarning {
			return false
		}
	}
	return true
}

// JSON reports whether -o json was asked for.
func (g *Global) JSON() bool { return g.Output == "json" }

// Printf writes human output unless -q.
func (g *Global) Printf(format string, args ...any) {
	if !g.Quiet {
		fmt.Fprintf(g.IO.Out, format, args...)
	}
}

// Infof writes a side remark to stderr unless -q.
func (g *Global) Infof(format string, args ...any) {
	if !g.Quiet {
		fmt.Fprintf(g.IO.ErrOut, format, args...)
	}
}

// PrintJSON writes v as indented JSON on stdout.
func (g *Global) PrintJSON(v any) error {
	enc := json.NewEncoder(g.IO.Out)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// Platform is this machine's os/arch, or PLUGCTL_OS / PLUGCTL_ARCH.
func Platform() string {
	goos, goarch := goruntime.GOOS, goruntime.GOARCH
	if v := os.Getenv("PLUGCTL_OS"); v != "" {
		goos = v
	}
	if v := os.Getenv("PLUGCTL_ARCH"); v != "" {
		goarch = v
	}
	return goos + "/" + goarch
}

// EnvMaxBytes overrides the size limit of a download and of an unpacked
// archive (default 1 GiB): a number of bytes, or with a K, M or G suffix.
const EnvMaxBytes = "PLUGCTL_MAX_BYTES"

func maxBytes() (int64, error) {
	v := strings.TrimSpace(os.Getenv(EnvMaxBytes))
	if v == "" {
		return 0, nil
	}
	mult := int64(1)
	switch strings.ToUpper(v[len(v)-1:]) {
	case "K":
		mult = 1 << 10
	case "M":
		mult = 1 << 20
	case "G":
		mult = 1 << 30
	}
	if mult > 1 {
		v = v[:len(v)-1]
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return 0, usageErrorf("%s=%q: want a positive number of bytes, optionally with K, M or G", EnvMaxBytes, os.Getenv(EnvMaxBytes))
	}
	return n * mult, nil
}

// EnvIdleTimeout overrides how long a download may receive nothing before
// it fails (default 30s): a Go duration such as 2s or 1m.
const EnvIdleTimeout = "PLUGCTL_IDLE_TIMEOUT"

// idleTimeout is PLUGCTL_IDLE_TIMEOUT, or 0 (the fetcher's default) when
// unset; a bad value is refused before any command runs (PersistentPreRunE).
func idleTimeout() time.Duration {
	d, _ := parseIdleTimeout()
	return d
}

func parseIdleTimeout() (time.Duration, error) {
	v := os.Getenv(EnvIdleTimeout)
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, usageErrorf("%s=%q: want a positive duration such as 10s or 2m", EnvIdleTimeout, v)
	}
	return d, nil
}

// command is one of plugctl's commands: its name and aliases, and how it is
// built.
type command struct {
	names []string
	build func(*Global) *cobra.Command
}

// commands are plugctl's commands, in the order --help lists them, each
// with its name and aliases (TestCommandNames keeps the two in step).
var commands = []command{
	{[]string{"index"}, newIndexCmd},
	{[]string{"install"}, newInstallCmd},
	{[]string{"reinstall"}, newReinstallCmd},
	{[]string{"list"}, newListCmd},
	{[]string{"info"}, newInfoCmd},
	{[]string{"search"}, newSearchCmd},
	{[]string{"use"}, newUseCmd},
	{[]string{"remove", "rm", "uninstall"}, newRemoveCmd},
	{[]string{"verify"}, newVerifyCmd},
	{[]string{"upgrade"}, newUpgradeCmd},
	{[]string{"outdated"}, newOutdatedCmd},
	{[]string{"prune"}, newPruneCmd},
	{[]string{"sync"}, newSyncCmd},
	{[]string{"call"}, newCallCmd},
	{[]string{"describe"}, newDescribeCmd},
	{[]string{"profiles"}, newProfilesCmd},
	{[]string{"start"}, newStartCmd},
	{[]string{"stop"}, newStopCmd},
	{[]string{"ps"}, newPsCmd},
	{[]string{"logs"}, newLogsCmd},
	{[]string{"health"}, newHealthCmd},
	{[]string{keeperCmd}, newKeepCmd},
	{[]string{"doctor"}, newDoctorCmd},
	{[]string{"mirror"}, newMirrorCmd},
	{[]string{"publish"}, newPublishCmd},
	{[]string{"serve"}, newServeCmd},
	{[]string{"version"}, newVersionCmd},
}

// NewRootCmd builds the whole command tree.
func NewRootCmd(g *Global) *cobra.Command { return newRootCmd(g, "") }

// commandIn returns the command that args run when it is one of commands
// (by name or alias) and the arguments before it are only global flags, or
// "" when that is not certain (help, completion, an unknown word or flag):
// then the whole tree is built, for help, suggestions and completion.
func commandIn(args []string) string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--" || a == "-":
			return ""
		case strings.HasPrefix(a, "--"):
			name, _, hasValue := strings.Cut(a[2:], "=")
			switch name {
			case "home", "output", "log-level", "timeout":
				if !hasValue {
					i++
				}
			case "verbose", "quiet", "offline", "inherit-env":
			default:
				return ""
			}
		case strings.HasPrefix(a, "-"):
			for j := 1; j < len(a); j++ {
				switch a[j] {
				case 'v', 'q':
					continue
				case 'o':
					if j == len(a)-1 {
						i++
					}
				default:
					return ""
				}
				break
			}
		default:
			for _, c := range commands {
				if slices.Contains(c.names, a) {
					return a
				}
			}
			return ""
		}
	}
	return ""
}

// newRootCmd builds the root command with every command, or with only the
// command called only (a name or alias): building the whole tree, some 25
// commands and their flags, cost about 0.15 to 0.2 ms of every run, a
// visible part of a warm call.
func newRootCmd(g *Global, only string) *cobra.Command {
	root := &cobra.Command{
		Use:           "plugctl",
		Short:         "Install, verify, upgrade and call hashicorp/go-plugin plugins",
		Long:          "plugctl installs go-plugin plugin binaries from indexes, verifies their SHA-256,\nkeeps semver versions side by side, and calls their methods from the command line.",
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			switch g.Output {
			case "text", "json":
			default:
				return usageErrorf("-o %q: want text or json", g.Output)
			}
			// The fetcher ignores bad values (idleTimeout, fetcher): they
			// are refused here, before any command runs.
			if _, err := parseIdleTimeout(); err != nil {
				return err
			}
			if _, err := maxBytes(); err != nil {
				return err
			}
			if g.LogLevel != "" {
				lv, err := parseLevel("--log-level", g.LogLevel, true)
				if err != nil {
					return err
				}
				if lv <= hclog.Info {
					g.Verbose = true
				}
			}
			return nil
		},
	}
	var showVersion bool
	root.Flags().BoolVar(&showVersion, "version", false, "print plugctl's version (as plugctl version)")
	root.RunE = func(cmd *cobra.Command, a []string) error {
		if !showVersion {
			return cmd.Help()
		}
		v := readVersion()
		if g.JSON() {
			return g.PrintJSON(v)
		}
		g.Printf("%s\n", v)
		return nil
	}
	root.SetIn(g.IO.In)
	root.SetOut(g.IO.Out)
	root.SetErr(g.IO.ErrOut)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageErrorf("%v (see %s --help)", err, c.CommandPath())
	})
	pf := root.PersistentFlags()
	pf.StringVar(&g.Home, "home", "", "plugctl home (default $PLUGCTL_HOME or ~/.plugins)")
	pf.StringVarP(&g.Output, "output", "o", "text", "output format: text or json")
	pf.BoolVarP(&g.Verbose, "verbose", "v", false, "verbose: show plugin logs and details on stderr")
	pf.StringVar(&g.LogLevel, "log-level", "", "log level: trace, debug, info, warn, error, off (debug and more imply -v)")
	pf.BoolVarP(&g.Quiet, "quiet", "q", false, "print nothing but errors")
	pf.BoolVar(&g.Offline, "offline", false, "use cached indexes only; never fetch an index")
	pf.BoolVar(&g.InheritEnv, "inherit-env", false, "give plugins plugctl's whole environment instead of a clean one ("+strings.Join(runtime.CleanEnv(), ", ")+" and --env)")
	pf.DurationVar(&g.Timeout, "timeout", 0, "bound the whole command (default: 60s for commands that run plugins; none for downloads, which fail after 30s without data)")

	for _, c := range commands {
		if only == "" || slices.Contains(c.names, only) {
			root.AddCommand(c.build(g))
		}
	}
	addCompletions(g, root)
	return root
}

// Main runs plugctl with os.Args and returns the exit code.
func Main() int {
	g := &Global{IO: IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}}
	return Run(g, os.Args[min(1, len(os.Args)):]) // argv may be empty (execve allows it)
}

// Run runs plugctl with args and returns the exit code.
func Run(g *Global, args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	only := commandIn(args)
	root := newRootCmd(g, only)
	if only == "" {
		// cobra adds its completion command at Execute; add it now to make
		// it, too, refuse an unknown shell (groupRun).
		root.InitDefaultCompletionCmd(args...)
		if c, _, err := root.Find([]string{"completion"}); err == nil && c != root && c.RunE == nil && c.Run == nil {
			c.RunE = groupRun
		}
	}
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	if !g.JSON() && outputJSONIn(args) {
		// cobra failed before it parsed -o (an unknown command, a bad flag
		// before it): the error is still JSON, as asked.
		g.Output = "json"
	}
	if ctx.Err() != nil {
		// SIGINT or SIGTERM: the command stopped what it was doing (a
		// plugin's process group is ended, a staged install removed); say
		// so rather than report the cancellation as the command's failure.
		if g.JSON() || outputJSONIn(args) {
			g.Output = "json"
			return reportError(g, &exitError{code: ExitInterrupted, msg: "interrupted"})
		}
		if !g.Quiet {
			fmt.Fprintln(g.IO.ErrOut, "plugctl: interrupted")
		}
		return ExitInterrupted
	}
	if msg := err.Error(); strings.HasPrefix(msg, "unknown command ") {
		// cobra's own error: several lines with suggestions; one line here.
		first, rest, _ := strings.Cut(msg, "\n")
		if s := strings.Fields(rest); len(s) > 0 && strings.Contains(rest, "Did you mean") {
			first += " (did you mean " + s[len(s)-1] + "?)"
		}
		err = usageErrorf("%s; see plugctl --help", first)
	}
	return reportError(g, err)
}

// outputJSONIn reports whether args ask for -o json (in any of the forms
// the flag takes) before any "--".
func outputJSONIn(args []string) bool {
	for i, a := range args {
		switch {
		case a == "--":
			return false
		case a == "-o" || a == "--output":
			if i+1 < len(args) && args[i+1] == "json" {
				return true
			}
		case a == "-ojson" || a == "--output=json" || a == "-o=json":
			return true
		}
	}
	return false
}

// DefaultRunTimeout bounds commands that launch plugins when --timeout is
// not given.
const DefaultRunTimeout = 60 * time.Second

// withTimeout bounds a command by --timeout; downloads have no deadline by
// default (the fetcher's idle timeout catches a stalled server).
func (g *Global) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if g.Timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, g.Timeout)
}

// withRunTimeout bounds a command that runs a plugin: --timeout, else
// DefaultRunTimeout.
func (g *Global) withRunTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if g.Timeout <= 0 {
		return context.WithTimeout(ctx, DefaultRunTimeout)
	}
	return context.WithTimeout(ctx, g.Timeout)
}
