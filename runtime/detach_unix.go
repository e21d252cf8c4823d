//go:build unix

package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gofrs/flock"
	plugin "github.com/hashicorp/go-plugin"

	"github.com/plugctl/plugctl/store"
)

// Bounds of Start and Stop.
const (
	// stopGrace is how long Stop waits for a plugin asked to exit before it
	// kills the plugin's process group.
	stopGrace = 3 * time.Second
	// termGrace is how long Stop waits after SIGTERM, sent to a plugin
	// that could not be asked to exit (no go-plugin controller), before it
	// kills the group.
	termGrace = 500 * time.Millisecond
	// handshakePoll is how often Start reads the plugin's stdout file
	// back for the handshake line.
	handshakePoll = 2 * time.Millisecond
)

// Start launches an installed plugin detached, to be reattached to by later
// processes (Attach): in its own session, stdin on /dev/null, stdout written
// to run/<name>@<version>.out and stderr to run/<name>@<version>.log (see
// OutFile and LogFile), so it survives the caller and never writes to a
// closed pipe. The executable is checked and executed exactly as Launch
// does it (verifiedExec: ownership, hash through an open descriptor, that
// descriptor exec'd where the platform allows), with the same environment.
// go-plugin reads the handshake from a pipe; here it is read from the
// stdout file, and as in go-plugin the first line must be the handshake. It
// is checked against the Spec's protocol and saved with go-plugin's
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
	spec, mode, err := checkSpec(spec, opt)
	if err != nil {
		return nil, false, err
	}
	proto := spec.Protocol
	runDir, err := home.EnsureRun()
	if err != nil {
		return nil, false, fmt.Errorf("plugin %s: run directory: %w", spec.Name, err)
	}
	unlock, err := lockRunCtx(ctx, home, spec.Name, spec.Version)
	if err != nil {
		return nil, false, err
	}
	defer unlock()
	// What an earlier start of this version left when it was killed.
	endInterruptedStart(home, spec.Name, spec.Version, false)
	if old, err := ReadStarted(home, spec.Name, spec.Version); err == nil {
		if old.Alive() {
			return old, false, nil
		}
		removeRunFiles(home, old)
	}

	st := &StartedPlugin{
		Schema: startedSchema, Name: spec.Name, Version: spec.Version,
		Exe: spec.Exe, SHA256: spec.SHA256, Dir: opt.Dir,
		Stdout: OutFile(home, spec.Name, spec.Version), Log: LogFile(home, spec.Name, spec.Version),
		MTLS: mode == store.MTLSTrue,
		Env:  envDigests(ExtraEnv(opt, os.Environ())),
	}
	if st.Dir == "" {
		st.Dir, _ = os.Getwd()
	}
	var certPEM []byte
	if mode == store.MTLSTrue {
		if _, certPEM, err = hostCertificate(home); err != nil {
			return nil, false, fmt.Errorf("plugin %s: %w", spec.Name, err)
		}
	}
	// The plugin names its socket <dir>/pluginNNNN, in a directory made
	// for this start alone, so that a handshake naming a socket anywhere
	// else (another plugin's) is refused: run/sNNNN, or a private temp
	// directory for a deep home. removeRunFiles removes it on every path
	// from here on.
	sockDir := ""
	if socketFits(runDir, "/s0123456789/plugin0123456789") {
		sockDir, err = os.MkdirTemp(runDir, "s")
	} else {
		sockDir, err = os.MkdirTemp("", "plugctl-run-")
	}
	if err != nil {
		return nil, false, err
	}
	st.SocketDir = sockDir

	// Recorded before the process exists (see spawnRecord): a start killed
	// from here on leaves nothing that CleanStale cannot find.
	spawn, err := newSpawn(home, spec.Name, spec.Version, sockDir)
	if err != nil {
		removeRunFiles(home, st)
		return nil, false, fmt.Errorf("plugin %s: %w", spec.Name, err)
	}
	spawnDone := func() { os.Remove(spawnFile(home, spec.Name, spec.Version)) }
	// The token comes last: neither --env nor config.yaml can replace it.
	env := append(pluginEnv(proto, opt, handshakeEnv(proto, sockDir), certPEM), spawn.env())
	exited, waitErr, err := startDetached(spec, opt, st, env)
	if err != nil {
		removeRunFiles(home, st)
		spawnDone()
		return nil, false, err
	}
	spawn.Pid, spawn.ProcStart = st.Pid, st.ProcStart
	_ = spawn.write(home, spec.Name, spec.Version) // the token finds it anyway where /proc can be read
	fail := func(e error) (*StartedPlugin, bool, error) {
		killGroup(st.Pid)
		select {
		case <-exited:
		case <-time.After(reapGrace):
		}
		removeRunFiles(home, st)
		spawnDone()
		return nil, false, e
	}

	line, err := awaitHandshake(ctx, st.Stdout, exited)
	if err == nil {
		err = st.applyHandshake(line, proto, mode)
	}
	var addrErr error
	if err == nil {
		// Nothing has dialled it yet: it must be the plugin's own.
		rc, _ := st.ReattachConfig()
		var warn string
		if warn, addrErr = checkHandshakeAddr(rc.Addr, sockDir, st.Pid); warn != "" {
			l, _ := pluginOutput(spec.Name, opt)
			l.Warn(warn, HostWarning, true)
		}
	}
	if addrErr != nil {
		return fail(&PluginError{Name: spec.Name, Op: OpHandshake, Err: addrErr})
	}
	if err != nil {
		status := ""
		select {
		case <-exited:
			status = exitStatus(*waitErr)
		default: // killed by fail: it did not exit of itself
		}
		stderr := &stderrWatch{}
		stderr.readLog(st.Log)
		pe := &PluginError{Name: spec.Name, Op: OpHandshake, Panic: stderr.panicLine(), Err: err}
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			pe.Err = errHandshakeTimeout
		case errors.Is(err, context.Canceled):
			pe.Err = errHandshakeCancelled(err)
		case stderr.sawCookieNotice():
			pe.Err = errWrongCookie
		case errors.Is(err, errNotHandshake):
			pe.Err = fmt.Errorf("%w (stdout: %s)", errUnrecognizedLine(line, status, stderr), st.Stdout)
		case errors.Is(err, errNoHandshake):
			pe.Err = fmt.Errorf("%w (log: %s)", errExitedBeforeHandshake(status, stderr), st.Log)
		}
		return fail(pe)
	}
	if rc, err := st.ReattachConfig(); err == nil {
		l, _ := pluginOutput(spec.Name, opt)
		warnPlainTCP(l, rc.Addr, mode)
	}
	if err := writeState(home, st); err != nil {
		return fail(err)
	}
	spawnDone()
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

// startDetached runs the plugin of spec in its own session with its output
// in st's files, and records its pid in st. exited is closed once the
// process was reaped, with *waitErr its status: reaped by us if it exits
// while we run (a long-lived host calling Start), by init once we exit.
func startDetached(spec Spec, opt Options, st *StartedPlugin, env []string) (exited <-chan struct{}, waitErr *error, err error) {
	exeFile, execPath, err := verifiedExec(spec)
	if err != nil {
		return nil, nil, err
	}
	defer exeFile.Close() // after the start: the child has exec'd by then
	open := func(path string) (*os.File, error) {
		return os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC|os.O_APPEND, 0o600)
	}
	stdout, err := open(st.Stdout)
	if err != nil {
		return nil, nil, err
	}
	defer stdout.Close()
	stderr, err := open(st.Log)
	if err != nil {
		return nil, nil, err
	}
	defer stderr.Close()
	var cmd *exec.Cmd
	err = startTextBusy(func() error {
		// An exec.Cmd starts once: a new one for each try.
		cmd = pluginCmd(execPath, spec.Exe, opt.Dir, env)
		cmd.Stdout, cmd.Stderr = stdout, stderr
		// Its own session: no signal of our terminal reaches it, and its
		// process group id is its pid.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		return cmd.Start()
	}, textBusyWait)
	if err != nil {
		return nil, nil, &PluginError{Name: spec.Name, Op: OpStart, Err: fmt.Errorf("would not start: %w", err)}
	}
	st.Pid = cmd.Process.Pid
	st.ProcStart, _, _ = processStart(st.Pid)
	st.StartedAt = time.Now().UTC().Truncate(time.Millisecond)
	done := make(chan struct{})
	waitErr = new(error)
	go func() { *waitErr = cmd.Wait(); close(done) }()
	return done, waitErr, nil
}

// maxHandshakeLine bounds the first line read back from a started plugin's
// stdout: go-plugin's bufio.Scanner takes lines of up to 64 KiB.
const maxHandshakeLine = 64 << 10

// errNoHandshake: the plugin exited without printing a line on stdout.
var errNoHandshake = errors.New("no handshake")

// awaitHandshake returns the first line of the plugin's stdout file once it
// is complete (or what there is when the process exits or the line grows
// too long), until ctx ends or go-plugin's default start timeout passes.
func awaitHandshake(ctx context.Context, out string, exited <-chan struct{}) (string, error) {
	deadline := startTimeout(ctx)
	timer := time.NewTimer(deadline)
	defer timer.Stop()
	tick := time.NewTicker(handshakePoll)
	defer tick.Stop()
	buf := make([]byte, maxHandshakeLine)
	first := func() (line string, complete bool) {
		f, err := os.Open(out)
		if err != nil {
			return "", false
		}
		defer f.Close()
		n, _ := io.ReadFull(f, buf)
		if i := bytes.IndexByte(buf[:n], '\n'); i >= 0 {
			return string(buf[:i]), true
		}
		return string(buf[:n]), n == len(buf)
	}
	for {
		if l, ok := first(); ok {
			return l, nil
		}
		select {
		case <-exited:
			// go-plugin's scanner also hands over a last line without
			// its newline.
			if l, _ := first(); l != "" {
				return l, nil
			}
			return "", errNoHandshake
		case <-ctx.Done():
			return "", ctx.Err()
		case <-timer.C:
			return "", context.DeadlineExceeded
		case <-tick.C:
		}
	}
}

// errNotHandshake: the first line on stdout does not have the fields of
// go-plugin's handshake (go-plugin: "Unrecognized remote plugin message").
var errNotHandshake = errors.New("not a handshake")

// applyHandshake checks the first line the plugin printed on stdout as
// go-plugin's client does, CORE|APP|NETWORK|ADDRESS|PROTOCOL[|CERT], against
// proto and mode, and records what it says.
func (s *StartedPlugin) applyHandshake(line string, proto store.Protocol, mode store.MTLSMode) error {
	f := strings.Split(strings.TrimSpace(line), "|")
	if len(f) < 4 {
		return errNotHandshake
	}
	if core, err := strconv.Atoi(f[0]); err != nil || core != plugin.CoreProtocolVersion {
		return fmt.Errorf("handshake failed: core protocol version %q, want %d", f[0], plugin.CoreProtocolVersion)
	}
	v, err := strconv.Atoi(f[1])
	if err != nil {
		return fmt.Errorf("handshake failed: protocol version %q is not a number", f[1])
	}
	if !slices.Contains(proto.Versions, v) {
		return errIncompatible("version "+strconv.Itoa(v), proto)
	}
	s.ProtocolVersion = v
	s.Network, s.Address = f[2], f[3]
	if _, err := s.ReattachConfig(); err != nil {
		return fmt.Errorf("handshake failed: %w", err)
	}
	s.Protocol = ProtocolNetRPC
	if len(f) > 4 && f[4] != "" {
		s.Protocol = f[4]
	}
	switch {
	case s.Protocol != ProtocolGRPC && s.Protocol != ProtocolNetRPC:
		return fmt.Errorf("handshake failed: unknown protocol %q", s.Protocol)
	case proto.Kind == store.KindGRPC && s.Protocol != ProtocolGRPC, proto.Kind == store.KindNetRPC && s.Protocol != ProtocolNetRPC:
		return errWrongKind(s.Protocol, proto)
	}
	if len(f) > 5 {
		s.ServerCert = f[5]
	}
	switch {
	case mode == store.MTLSTrue && s.ServerCert == "":
		return ErrNoPluginCert
	case mode != store.MTLSTrue && s.ServerCert != "":
		return ErrUnaskedCert
	}
	return nil
}

// handshakeEnv is what go-plugin's Client sets for a plugin it starts
// (client.go): the magic cookie, the port range, the offered versions and
// where to put the unix socket. Launch gets these from go-plugin itself.
func handshakeEnv(proto store.Protocol, sockDir string) []string {
	vs := make([]string, len(proto.Versions))
	for i, v := range proto.Versions {
		vs[i] = strconv.Itoa(v)
	}
	return []string{
		proto.CookieKey + "=" + proto.CookieValue,
		"PLUGIN_MIN_PORT=10000",
		"PLUGIN_MAX_PORT=25000",
		"PLUGIN_PROTOCOL_VERSIONS=" + strings.Join(vs, ","),
		"PLUGIN_UNIX_SOCKET_DIR=" + sockDir,
	}
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
// GRPCController.Shutdown or net/rpc's Control.Quit) and waits up to a few
// seconds; a plugin that cannot be asked (no controller, or no answer) gets
// SIGTERM on its process group and a short grace instead. Then the group is
// killed, and its run files are removed (the log stays). It wraps ErrNotStarted when name@version was not started; a
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
		asked := false
		if p, err := attachState(actx, home, st, spec, Options{Home: home}, false); err == nil {
			asked = p.quit(actx)
			_ = p.Close()
		}
		cancel()
		grace := stopGrace
		if !asked && st.Alive() {
			termGroup(st.Pid)
			grace = termGrace
		}
		if !waitProcGone(st, grace) {
			// setsid made its pid its process group id. The identity
			// check above (start time) guards against a reused pid.
			if st.Alive() {
				killGroup(st.Pid)
			}
			waitProcGone(st, reapGrace)
		}
		// A plugin that exited when asked leaves its children running.
		endGroup(st.Pid)
		// Its keeper notices and ends too: waited for, so that a start
		// right after gets a keeper of its own rather than finding the old
		// one still answering (then gone, and its socket with it).
		waitKeeperGone(home, st, reapGrace)
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

// endGroup kills what is left of the process group of a started plugin
// that was just seen running: the children it started (a worker, a
// `sleep`) stay in its group and session unless they made their own, and
// would outlive it. The kernel does not hand out the plugin's pid again
// while its group or session has a member, so the group is still the
// plugin's; where the members can be listed, only a group that still has
// some in the plugin's session is signalled.
func endGroup(pid int) {
	if pid <= 0 || canListGroups && len(groupMembers(pid, pid)) == 0 {
		return
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
}

// termGroup asks a started plugin's process group to end (SIGTERM).
func termGroup(pid int) {
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	_ = syscall.Kill(pid, syscall.SIGTERM)
}

func inode(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Ino)
	}
	return 0
}
