package runner

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc/metadata"

	"github.com/plugctl/plugctl/runtime"
	"github.com/plugctl/plugctl/store"
)

// Flags are the run settings a command was given for the plugin it runs.
type Flags struct {
	MTLS        string   // --mtls: "", auto, true or false
	Env         []string // --env: NAME, NAME* or NAME=VALUE
	Proto       []string // --proto: .proto files, for a plugin without reflection
	ImportPaths []string // --import-path
	Protoset    string   // --protoset
	Decode      *bool    // --decode when given; nil: the profile's default
}

// FlagError is a bad value of a run flag, or of an entry of config.yaml's
// plugins.NAME.env: Where names it ("--mtls", "config.yaml plugins.kv.env").
type FlagError struct {
	Where string
	Value string
	Want  string
}

func (e *FlagError) Error() string { return fmt.Sprintf("%s %q: want %s", e.Where, e.Value, e.Want) }

// Check refuses bad values of the flags before anything runs; Options
// makes the same checks.
func (f *Flags) Check() error {
	switch store.MTLSMode(f.MTLS) {
	case "", store.MTLSAuto, store.MTLSTrue, store.MTLSFalse:
	default:
		return &FlagError{Where: "--mtls", Value: f.MTLS, Want: "auto, true or false"}
	}
	for _, e := range f.Env {
		if _, _, err := envEntry("--env", e); err != nil {
			return err
		}
	}
	return nil
}

// envEntry checks one NAME, NAME* or NAME=VALUE of --env or config.yaml
// (where).
func envEntry(where, e string) (name string, hasValue bool, err error) {
	k, _, hasValue := strings.Cut(e, "=")
	if !runtime.ValidEnvName(k) || (hasValue && strings.HasSuffix(k, "*")) {
		return "", false, &FlagError{Where: where, Value: e, Want: "NAME, NAME* or NAME=VALUE"}
	}
	return k, hasValue, nil
}

// CallOptions are the call options the flags give, with metadata md.
func (f *Flags) CallOptions(md metadata.MD) runtime.CallOptions {
	return runtime.CallOptions{Metadata: md, ProtoFiles: f.Proto, ImportPaths: f.ImportPaths, Protoset: f.Protoset, Decode: f.Decode}
}

// keeperOK reports whether a keeper may serve calls made with f: --proto
// and --protoset are schemas for this command only, and --mtls may ask for
// another process than the started one.
func (f *Flags) keeperOK() bool {
	mtls := store.MTLSMode(f.MTLS)
	return len(f.Proto) == 0 && f.Protoset == "" && (mtls == "" || mtls == store.MTLSAuto)
}

// Runner runs the installed plugins of one home.
type Runner struct {
	Home store.Paths
	// Logger is the host logger plugins' output goes to
	// (runtime.Options.Logger); nil discards it.
	Logger hclog.Logger
	// InheritEnv gives plugins plugctl's whole environment (--inherit-env).
	InheritEnv bool
	// Remark, when set, is told what the CLI shows at -v: a reattach, a
	// fresh launch in place of a dead started process, a keeper used or
	// not come up. Health calls it from several goroutines, one at a time.
	Remark func(format string, args ...any)
	// KeeperCmd returns the command that runs the keeper of a started
	// plugin (runtime.Keep), not yet started; nil: StartKeeper starts none.
	KeeperCmd func(st *runtime.StartedPlugin) (*exec.Cmd, error)

	remarkMu sync.Mutex
}

func (r *Runner) remark(format string, args ...any) {
	if r.Remark == nil {
		return
	}
	r.remarkMu.Lock()
	defer r.remarkMu.Unlock()
	r.Remark(format, args...)
}

// Resolve returns the receipt of the installed version target
// (NAME[@VERSION]: the given version, else the active one) once the flags
// are good for it: valid values, and no --env that a started process of
// that version, which calls would reach, was not started with
// (*runtime.EnvMismatchError).
func (r *Runner) Resolve(target string, f Flags) (*store.Receipt, error) {
	rc, err := r.Home.ReadRef(target)
	if err != nil {
		return nil, err
	}
	if err := r.checkFlags(rc, f); err != nil {
		return nil, err
	}
	return rc, nil
}

// checkFlags is Resolve's check of f for rc.
func (r *Runner) checkFlags(rc *store.Receipt, f Flags) error {
	if err := f.Check(); err != nil {
		return err
	}
	return r.checkStartedEnv(rc, f)
}

// checkStartedEnv refuses --env for a version that runs started with
// other variables: the command would reach that process, whose environment
// cannot change, and silently get other values than a cold launch would.
// Without --env a command uses what the plugin was started with.
func (r *Runner) checkStartedEnv(rc *store.Receipt, f Flags) error {
	if len(f.Env) == 0 {
		return nil
	}
	st, err := runtime.ReadStarted(r.Home, rc.Name, rc.Version)
	if err != nil || !st.Alive() {
		return nil
	}
	opt, err := r.Options(rc.Name, f)
	if err != nil {
		return err
	}
	return st.CheckEnv(opt, os.Environ())
}

// Options are the launch options of plugin name run with f: --mtls, --env
// and config.yaml's plugins.NAME.env, --inherit-env, the home's run
// directory (made if missing).
func (r *Runner) Options(name string, f Flags) (runtime.Options, error) {
	if err := f.Check(); err != nil {
		return runtime.Options{}, err
	}
	env, allow, err := r.pluginEnv(name, f.Env)
	if err != nil {
		return runtime.Options{}, err
	}
	runDir, err := r.Home.EnsureRun()
	if err != nil {
		return runtime.Options{}, err
	}
	return runtime.Options{
		RunDir: runDir, Home: r.Home, Logger: r.Logger, MTLS: store.MTLSMode(f.MTLS),
		Env: env, AllowEnv: allow, InheritEnv: r.InheritEnv,
	}, nil
}

// pluginEnv splits what plugin name may get of the environment, from
// config.yaml's plugins.NAME.env and then flags, into variables set
// (NAME=VALUE) and names passed from plugctl's environment.
func (r *Runner) pluginEnv(name string, flags []string) (set, allow []string, err error) {
	cfg, err := store.LoadConfig(r.Home)
	if err != nil {
		return nil, nil, err
	}
	for i, list := range [][]string{cfg.Plugins[name].Env, flags} {
		where := "--env"
		if i == 0 {
			where = "config.yaml plugins." + name + ".env"
		}
		for _, e := range list {
			k, hasValue, err := envEntry(where, e)
			if err != nil {
				return nil, nil, err
			}
			if hasValue {
				set = append(set, e)
			} else {
				allow = append(allow, k)
			}
		}
	}
	return set, allow, nil
}

// AttachOrLaunch reattaches to the started process of rc's version when
// there is one (warm is then true, and Close only drops the connection),
// else launches a fresh one with opt. It is how every command gets its
// plugin.
func (r *Runner) AttachOrLaunch(ctx context.Context, rc *store.Receipt, opt runtime.Options) (pl *runtime.Plugin, warm bool, err error) {
	if st, err := runtime.ReadStarted(r.Home, rc.Name, rc.Version); err == nil && !st.Alive() {
		r.remark("plugctl: started %s@%s (pid %d) is gone (its log: %s); launching a fresh process\n", rc.Name, rc.Version, st.Pid, st.Log)
	}
	pl, warm, err = runtime.AttachReceipt(ctx, r.Home, rc, opt)
	switch {
	case err != nil:
		r.remark("plugctl: could not reattach to %s@%s, launching it: %v\n", rc.Name, rc.Version, err)
	case warm:
		r.remark("plugctl: reattached to %s@%s (pid %d)\n", rc.Name, rc.Version, pl.Pid())
		return pl, true, nil
	}
	pl, err = runtime.Launch(ctx, runtime.SpecFromReceipt(r.Home, rc), opt)
	return pl, false, err
}

// Open resolves target (Resolve) and attaches to or launches it with f
// (AttachOrLaunch), for a command that uses the plugin itself (describe).
func (r *Runner) Open(ctx context.Context, target string, f Flags) (*runtime.Plugin, error) {
	rc, err := r.Resolve(target, f)
	if err != nil {
		return nil, err
	}
	opt, err := r.Options(rc.Name, f)
	if err != nil {
		return nil, err
	}
	pl, _, err := r.AttachOrLaunch(ctx, rc, opt)
	return pl, err
}

// Call calls method of rc's version (from Resolve) with args, handing each
// result document to emit: through the started version's keeper when it
// has one and f allows (one round trip; the plugin runs with the
// environment it was started with, so config.yaml is not read), else on a
// process from AttachOrLaunch, which a launched one does not outlive.
func (r *Runner) Call(ctx context.Context, rc *store.Receipt, f Flags, method string, args []byte, co runtime.CallOptions, emit func([]byte) error) error {
	if done, err := r.callKept(ctx, rc, f, method, args, co, emit); done {
		return err
	}
	opt, err := r.Options(rc.Name, f)
	if err != nil {
		return err
	}
	pl, _, err := r.AttachOrLaunch(ctx, rc, opt)
	if err != nil {
		return err
	}
	// plugctl exits right after: the plugin's process group is killed
	// rather than asked to exit and waited for (see CloseAtExit).
	defer pl.CloseAtExit()
	return pl.Call(ctx, method, args, co, emit)
}

// callKept makes the call through the keeper of the started version rc,
// when f allows and it has one; done is false when not, and nothing was
// sent.
func (r *Runner) callKept(ctx context.Context, rc *store.Receipt, f Flags, method string, args []byte, co runtime.CallOptions, emit func([]byte) error) (done bool, err error) {
	if !f.keeperOK() {
		return false, nil
	}
	st, err := runtime.ReadStarted(r.Home, rc.Name, rc.Version)
	if err != nil {
		return false, nil
	}
	done, err = st.CallKeeper(ctx, r.Home, rc, method, args, co, emit)
	if done {
		r.remark("plugctl: reattached to %s@%s (pid %d)\n", rc.Name, rc.Version, st.Pid)
		r.remark("plugctl: called through its keeper (%s)\n", st.Keeper(r.Home))
	}
	return done, err
}
