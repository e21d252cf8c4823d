//go:build unix

package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gofrs/flock"
	plugin "github.com/hashicorp/go-plugin"

	"github.com/plugctl/plugctl/store"
	"github.com/plugctl/plugctl/verify"
)

// Bounds of Start and Stop.
const (
	// stopGrace is how long Stop waits for a plugin asked to exit before it
	// kills the plugin's process group.
	stopGrace = 3 * time.Second
	// handshakePoll is how often Start reads the log back for the
	// handshake line.
	handshakePoll = 2 * time.Millisecond
)

// Start launches an installed plugin detached, to be reattached to by later
// processes (Attach): in its own session, stdin on /dev/null, stdout and
// stderr appended to run/<name>@<version>.log, so it survives the caller and
// never writes to a closed pipe. The executable is verified against
// spec.SHA256 first, exactly as Launch does. go-plugin reads the handshake
// from a pipe; here it is read back from the log (the first line that parses
// as one), checked against the Spec's protocol, and saved with go-plugin's
// ReattachConfig in run/<name>@<version>.json. Start then connects once and
// pings the plugin before it returns.
//
// opt.Home is required; opt.Dir is the plugin's working directory. ctx bounds
// the start and handshake only. When name@version already runs, Start
// returns its record and started=false.
func Start(ctx context.Context, spec Spec, opt Options) (sp *StartedPlugin, started bool, err error) {
	home := opt.Home
	if home.Home == "" {
		return nil, false, fmt.Errorf("plugin %s: start needs a home", spec.Name)
	}
	proto := spec.Protocol.WithDefaults(spec.Name)
	if err := proto.Validate(); err != nil {
		return nil, false, fmt.Errorf("plugin %s: %w", spec.Name, err)
	}
	spec.Protocol = proto
	mode := proto.MTLS
	if opt.MTLS != "" {
		mode = opt.MTLS
	}
	switch mode {
	case store.MTLSAuto, store.MTLSTrue, store.MTLSFalse:
	default:
		return nil, false, fmt.Errorf("plugin %s: mtls %q: want auto, true or false", spec.Name, mode)
	}
	if !filepath.IsAbs(spec.Exe) {
		return nil, false, fmt.Errorf("plugin %s: executable path %q is not absolute", spec.Name, spec.Exe)
	}
	if spec.SHA256 == "" {
		return nil, false, fmt.Errorf("plugin %s: no sha256 for %s: refusing to run an unverified executable", spec.Name, spec.Exe)
	}
	runDir, err := home.EnsureRun()
	if err != nil {
		return nil, false, fmt.Errorf("plugin %s: run directory: %w", spec.Name, err)
	}
	unlock, err := lockRunCtx(ctx, home, spec.Name, spec.Version)
	if err != nil {
		return nil, false, err
	}
	defer unlock()
	if old, err := ReadStarted(home, spec.Name, spec.Version); err == nil {
		if old.Alive() {
			return old, false, nil
		}
		removeRunFiles(home, old)
	}

	// Right before the start, as in Launch: a changed binary never runs.
	if err := verify.CheckExecutable(spec.Exe, spec.SHA256, spec.RecordPath); err != nil {
		var me *verify.MismatchError
		if errors.As(err, &me) {
			return nil, false, err
		}
		return nil, false, &PluginError{Name: spec.Name, Op: OpStart, Err: fmt.Errorf("would not start: %w", err)}
	}

	st := &StartedPlugin{
		Schema: startedSchema, Name: spec.Name, Version: spec.Version,
		Exe: spec.Exe, SHA256: spec.SHA256, Dir: opt.Dir,
		Log: LogFile(home, spec.Name, spec.Version), MTLS: mode == store.MTLSTrue,
	}
	if st.Dir == "" {
		st.Dir, _ = os.Getwd()
	}
	// The plugin names its socket <dir>/pluginNNNN; a unix socket path has
	// at most 104 bytes (macOS). A deep home gets a private temp directory.
	sockDir := runDir
	if len(runDir)+len("/plugin0123456789") >= 104 {
		if sockDir, err = os.MkdirTemp("", "plugctl-run-"); err != nil {
			return nil, false, err
		}
		st.SocketDir = sockDir
	}
	var certPEM []byte
	if mode == store.MTLSTrue {
		if _, certPEM, err = hostCertificate(home); err != nil {
			return nil, false, fmt.Errorf("plugin %s: %w", spec.Name, err)
		}
	}

	logf, err := os.OpenFile(st.Log, os.O_CREATE|os.O_WRONLY|os.O_TRUNC|os.O_APPEND, 0o600)
	if err != nil {
		return nil, false, err
	}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		logf.Close()
		return nil, false, err
	}
	cmd := &exec.Cmd{
		Path:   spec.Exe,
		Args:   []string{spec.Exe},
		Env:    detachedEnv(proto, sockDir, certPEM, opt),
		Dir:    opt.Dir,
		Stdin:  devnull,
		Stdout: logf,
		Stderr: logf,
		// Its own session: no signal of our terminal reaches it, and its
		// process group is its pid.
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	err = cmd.Start()
	logf.Close()
	devnull.Close()
	if err != nil {
		return nil, false, &PluginError{Name: spec.Name, Op: OpStart, Err: fmt.Errorf("would not start: %w", err)}
	}
	st.Pid = cmd.Process.Pid
	st.ProcStart, _, _ = processStart(st.Pid)
	st.StartedAt = time.Now().UTC().Truncate(time.Millisecond)
	exited := make(chan struct{})
	var waitErr error
	// Reaps it if it exits while we run (a long-lived host calling Start);
	// once we exit, init does.
	go func() { waitErr = cmd.Wait(); close(exited) }()

	fail := func(e error) (*StartedPlugin, bool, error) {
		_ = syscall.Kill(-st.Pid, syscall.SIGKILL)
		select {
		case <-exited:
		case <-time.After(reapGrace):
		}
		removeRunFiles(home, st)
		return nil, false, e
	}

	line, err := awaitHandshake(ctx, st.Log, exited)
	if err != nil {
		watch := &stderrWatch{}
		if b, rerr := os.ReadFile(st.Log); rerr == nil {
			_, _ = watch.Write(b)
			_, _ = watch.Write([]byte("\n"))
		}
		pe := &PluginError{Name: spec.Name, Op: OpHandshake, Panic: watch.panicLine()}
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			pe.Err = fmt.Errorf("timed out waiting for the handshake (killed): %w", context.DeadlineExceeded)
		case errors.Is(err, context.Canceled):
			pe.Err = fmt.Errorf("cancelled before the handshake (killed): %w", err)
		case watch.sawCookieNotice():
			pe.Err = errors.New("handshake failed: the plugin expects a different magic cookie (protocol.cookieKey/cookieValue in the index)")
		default:
			<-exited
			status := "exited"
			var ee *exec.ExitError
			if errors.As(waitErr, &ee) {
				status = ee.ProcessState.String()
			}
			detail := ""
			if pe.Panic == "" {
				if l := watch.lastLine(); l != "" {
					detail = ": " + logMessage(l)
				}
			}
			pe.Err = fmt.Errorf("plugin exited before the handshake (%s)%s (log: %s)", status, detail, st.Log)
		}
		return fail(pe)
	}
	if err := st.applyHandshake(line, proto, mode); err != nil {
		return fail(&PluginError{Name: spec.Name, Op: OpHandshake, Err: err})
	}
	if st.Network == "tcp" && mode == store.MTLSAuto && opt.Stderr != nil {
		fmt.Fprintf(opt.Stderr, "warning: plugin %s listens on plain TCP (%s), which other local users can reach; use --mtls true if it supports go-plugin's mTLS\n", spec.Name, st.Address)
	}
	if err := writeState(home, st); err != nil {
		return fail(err)
	}
	// One round trip proves the record usable: address, TLS, protocol.
	p, err := attachState(ctx, home, st, spec, Options{Home: home}, false)
	if err == nil {
		err = p.Ping(ctx)
		_ = p.Close()
	}
	if err != nil {
		return fail(err)
	}
	return st, true, nil
}

// awaitHandshake polls the log for the first line that parses as a go-plugin
// handshake, until the process exits or ctx ends.
func awaitHandshake(ctx context.Context, log string, exited <-chan struct{}) (string, error) {
	deadline := time.Minute // go-plugin's default StartTimeout
	if dl, ok := ctx.Deadline(); ok {
		deadline = time.Until(dl)
	}
	timer := time.NewTimer(deadline)
	defer timer.Stop()
	tick := time.NewTicker(handshakePoll)
	defer tick.Stop()
	check := func() (string, bool) {
		b, err := os.ReadFile(log)
		if err != nil {
			return "", false
		}
		for _, l := range bytes.Split(b, []byte("\n")) {
			if isHandshake(string(l)) {
				return strings.TrimSpace(string(l)), true
			}
		}
		return "", false
	}
	for {
		if l, ok := check(); ok {
			return l, nil
		}
		select {
		case <-exited:
			if l, ok := check(); ok {
				return l, nil
			}
			return "", errors.New("exited")
		case <-ctx.Done():
			return "", ctx.Err()
		case <-timer.C:
			return "", context.DeadlineExceeded
		case <-tick.C:
		}
	}
}

// isHandshake: CORE|APP|NETWORK|ADDRESS|PROTOCOL[|CERT], the line go-plugin's
// Serve prints.
func isHandshake(l string) bool {
	f := strings.Split(strings.TrimSpace(l), "|")
	if len(f) < 4 || len(f) > 6 {
		return false
	}
	if _, err := strconv.Atoi(f[0]); err != nil {
		return false
	}
	if _, err := strconv.Atoi(f[1]); err != nil {
		return false
	}
	return (f[2] == "unix" || f[2] == "tcp") && f[3] != ""
}

func (s *StartedPlugin) applyHandshake(line string, proto store.Protocol, mode store.MTLSMode) error {
	f := strings.Split(line, "|")
	if f[0] != strconv.Itoa(plugin.CoreProtocolVersion) {
		return fmt.Errorf("handshake failed: core protocol version %s, want %d", f[0], plugin.CoreProtocolVersion)
	}
	v, _ := strconv.Atoi(f[1])
	ok := false
	for _, want := range proto.Versions {
		ok = ok || want == v
	}
	if !ok {
		return fmt.Errorf("handshake failed: incompatible API version: the plugin speaks protocol version %d, plugctl offered %s (protocol.version in the index)", v, proto.Versions)
	}
	s.ProtocolVersion = v
	s.Network, s.Address = f[2], f[3]
	s.Protocol = ProtocolNetRPC
	if len(f) > 4 && f[4] != "" {
		s.Protocol = f[4]
	}
	switch {
	case s.Protocol != ProtocolGRPC && s.Protocol != ProtocolNetRPC:
		return fmt.Errorf("handshake failed: unknown protocol %q", s.Protocol)
	case proto.Kind == store.KindGRPC && s.Protocol != ProtocolGRPC, proto.Kind == store.KindNetRPC && s.Protocol != ProtocolNetRPC:
		return fmt.Errorf("handshake failed: the plugin speaks %s, but protocol.kind is %s", s.Protocol, proto.Kind)
	}
	if len(f) > 5 {
		s.ServerCert = f[5]
	}
	switch {
	case mode == store.MTLSTrue && s.ServerCert == "":
		return errors.New("handshake failed: mtls is required but the plugin sent no certificate (it does not speak go-plugin's mTLS; use --mtls auto)")
	case mode != store.MTLSTrue && s.ServerCert != "":
		return errUnaskedCert
	}
	return nil
}

// detachedEnv is the environment of a started plugin, built as Launch builds
// it: what hostEnv lets through of the caller's (opt.AllowEnv,
// opt.InheritEnv), then opt.Env, then go-plugin's handshake variables as
// go-plugin's Client sets them (client.go), which nothing overrides.
func detachedEnv(proto store.Protocol, sockDir string, certPEM []byte, opt Options) []string {
	env := filterEnv(hostEnv(os.Environ(), opt), proto.CookieKey)
	env = append(env, filterEnv(opt.Env, proto.CookieKey)...)
	vs := make([]string, len(proto.Versions))
	for i, v := range proto.Versions {
		vs[i] = strconv.Itoa(v)
	}
	return append(env,
		proto.CookieKey+"="+proto.CookieValue,
		"PLUGIN_MIN_PORT=10000",
		"PLUGIN_MAX_PORT=25000",
		"PLUGIN_PROTOCOL_VERSIONS="+strings.Join(vs, ","),
		"PLUGIN_UNIX_SOCKET_DIR="+sockDir,
		"PLUGIN_CLIENT_CERT="+string(certPEM),
	)
}

// processAlive: pid runs, is not a zombie, and started at start (when
// known).
func processAlive(pid int, start uint64) bool {
	if pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil {
		// EPERM: a process of another user took the pid.
		return false
	}
	got, zombie, ok := processStart(pid)
	if !ok || zombie {
		return false
	}
	return start == 0 || got == 0 || got == start
}

// lockRunCtx takes the per-version lock on run files (start, stop and
// cleaning of one name@version exclude each other across processes).
func lockRunCtx(ctx context.Context, home store.Paths, name, version string) (func(), error) {
	if _, err := home.EnsureRun(); err != nil {
		return nil, err
	}
	fl := flock.New(lockFile(home, name, version))
	ok, err := fl.TryLockContext(ctx, 20*time.Millisecond)
	if err != nil || !ok {
		if err == nil {
			err = ctx.Err()
		}
		return nil, fmt.Errorf("lock %s@%s: %w", name, version, err)
	}
	return func() { fl.Unlock() }, nil
}

func lockRun(home store.Paths, name, version string, wait time.Duration) (func(), error) {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	return lockRunCtx(ctx, home, name, version)
}

// Stop ends a started plugin: it asks it to exit (go-plugin's
// GRPCController.Shutdown or net/rpc's Control.Quit), waits up to a few
// seconds, then kills its process group, and removes its run files (the log
// stays). It wraps ErrNotStarted when name@version was not started; a
// record whose process is already gone is cleaned up and returned without
// error.
func Stop(ctx context.Context, home store.Paths, name, version string) (*StartedPlugin, error) {
	unlock, err := lockRunCtx(ctx, home, name, version)
	if err != nil {
		return nil, err
	}
	defer unlock()
	st, err := ReadStarted(home, name, version)
	if err != nil {
		return nil, err
	}
	if st.Alive() {
		spec := Spec{Name: st.Name, Version: st.Version, Exe: st.Exe, SHA256: st.SHA256}
		if r, err := home.ReadReceipt(name, version); err == nil {
			spec = SpecFromReceipt(home, r)
		}
		actx, cancel := context.WithTimeout(ctx, time.Second)
		if p, err := attachState(actx, home, st, spec, Options{Home: home}, true); err == nil {
			p.quit(actx)
			_ = p.Close()
		}
		cancel()
		if !waitProcGone(st, stopGrace) {
			// setsid made its pid its process group id. The identity
			// check above (start time) guards against a reused pid.
			if st.Alive() {
				_ = syscall.Kill(-st.Pid, syscall.SIGKILL)
				_ = syscall.Kill(st.Pid, syscall.SIGKILL)
			}
			waitProcGone(st, reapGrace)
		}
	}
	removeRunFiles(home, st)
	return st, nil
}

func waitProcGone(st *StartedPlugin, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for st.Alive() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// killGroup kills a started plugin's process group (its own session: the
// group id is its pid).
func killGroup(pid int) {
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	_ = syscall.Kill(pid, syscall.SIGKILL)
}

func inode(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Ino)
	}
	return 0
}
