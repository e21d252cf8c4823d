package runtime

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	plugin "github.com/hashicorp/go-plugin"
	"github.com/hashicorp/go-plugin/runner"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/plugctl/plugctl/store"
	"github.com/plugctl/plugctl/verify"
)

// Spec says what to launch and how: one installed version of a plugin.
type Spec struct {
	Name, Version string
	Exe           string         // absolute path of the executable
	SHA256        string         // expected hex SHA-256 of Exe (from the receipt); required
	RecordPath    string         // verify's identity record, e.g. <versiondir>/.verified
	Protocol      store.Protocol // handshake and transport; Launch applies WithDefaults(Name)
	// Root is the directory (the home) up to which every directory above
	// Exe must be owned by the user or root and not writable by others
	// (see UnsafePathError). Empty: only Exe's own directory is checked.
	Root string
	// Steering are the other files whose content steers the launch (the
	// receipt, config.yaml with the plugin's environment, the schema):
	// held, with their directories up to Root, to the same rule as Exe
	// before anything runs; missing ones are skipped. SpecFromReceipt
	// fills it.
	Steering []string
	// Protoset is an optional FileDescriptorSet (the index's protocol.schema,
	// verified copy) used instead of gRPC reflection.
	Protoset string
	// ProtosetSHA256, when set, is checked against Protoset before use.
	ProtosetSHA256 string
	// ReflectionCache is the file where the descriptors that gRPC server
	// reflection returns are kept for later calls (SpecFromReceipt:
	// <versiondir>/.reflection.cache); empty: reflection at every launch.
	ReflectionCache string
}

// ReflectionCacheFile is the name, inside a version directory, of the
// cache of what gRPC server reflection discovered (see Spec.ReflectionCache).
// plugctl remove and a reinstall delete it with the version directory.
const ReflectionCacheFile = ".reflection.cache"

// SpecFromReceipt returns the Spec of an installed version.
func SpecFromReceipt(p store.Paths, r *store.Receipt) Spec {
	vdir := p.VersionDir(r.Name, r.Version)
	s := Spec{
		Name:       r.Name,
		Version:    r.Version,
		Exe:        p.Exe(r),
		SHA256:     r.BinSHA256,
		RecordPath: filepath.Join(vdir, verify.RecordFile),
		Root:       p.Home,
		Protocol:   r.Protocol.WithDefaults(r.Name),

		ReflectionCache: filepath.Join(vdir, ReflectionCacheFile),
	}
	s.Steering = []string{p.ReceiptFile(r.Name, r.Version), p.Config(), s.ReflectionCache}
	if sc := r.Protocol.Schema; sc != nil && sc.Path != "" {
		s.Protoset = sc.Path
		if !filepath.IsAbs(s.Protoset) {
			s.Protoset = filepath.Join(vdir, filepath.FromSlash(sc.Path))
		}
		s.ProtosetSHA256 = sc.SHA256
		s.Steering = append(s.Steering, s.Protoset)
	}
	return s
}

// Options are the caller's side of a launch.
type Options struct {
	// RunDir is the private (0700) directory for the plugin's unix socket,
	// normally Home.EnsureRun(). Empty: Home's run/ when Home is set, else a
	// fresh private directory under the system's temporary directory.
	RunDir string
	// Home holds the host's mTLS certificate (run/host-cert.pem), made once
	// per home. Empty: a throwaway certificate per launch.
	Home store.Paths
	// Logger receives, under the plugin's name (Logger.Named), go-plugin's
	// own lines about the plugin, the plugin's logs (the hclog lines it
	// writes on stderr, at their own level, and its other stderr lines),
	// what it prints on its synced stdout and stderr (at Info), and this
	// package's warnings (at Warn). Its level decides what is kept: set it
	// to hclog.Trace to see a plugin's trace logs. Nil: all of it is
	// discarded. Nothing a plugin prints ever reaches the host's stdout.
	Logger hclog.Logger
	// MTLS overrides the spec's protocol.mtls when not empty.
	MTLS store.MTLSMode
	// Dir is the plugin's working directory (default: the caller's).
	Dir string
	// The plugin's environment is clean: of the caller's variables only
	// those named in CleanEnv and AllowEnv reach it, unless InheritEnv,
	// plus Env, plus go-plugin's own (the magic cookie, PLUGIN_*), which
	// nothing can override.
	//
	// Env holds NAME=VALUE pairs set for the plugin.
	Env []string
	// AllowEnv names variables of the caller's environment passed on
	// (--env NAME, config.yaml's plugins.NAME.env); a name ending in *
	// matches every variable it prefixes.
	AllowEnv []string
	// InheritEnv passes the caller's whole environment (--inherit-env).
	InheritEnv bool
}

// afterCheckHook, when set by a test, runs between the executable's check
// and its start: where a swap of the file must not matter.
var afterCheckHook func()

// Plugin is a running plugin process with a connection to it. It is safe
// for concurrent use.
type Plugin struct {
	spec   Spec
	client *plugin.Client
	// runner is the process Launch started, which Close ends; attach, for a
	// started plugin that Attach connected to, is what Close leaves
	// running. One of them is set.
	runner *procRunner
	attach *attachment
	stderr *stderrWatch
	proto  string

	conn *grpc.ClientConn // gRPC
	rpc  netrpcConn       // net/rpc
	mtls bool             // the connection is mTLS (whatever the spec or options asked)
	pre  *dialedConn      // Attach's connection, until net/rpc or gRPC takes it

	stopWatch func() bool
	closeOnce sync.Once
	hostLog   *hostLogger // Launch's, muted by Close
	socketDir string      // go-plugin's directory for the plugin's socket, when Launch made one
	forwards  bool        // the plugin's output is shown (Options.Logger): Close lets it drain

	// For $broker arguments (broker.go): the options helpers are launched
	// with, the TLS of the connection (brokered servers use it too), the
	// watch on go-plugin's broker stream (nil: this connection has no
	// broker), and what was brokered, ended at Close.
	opt      Options
	tls      *tls.Config
	bw       *brokerWatch
	brokerMu sync.Mutex
	brokered []*grpc.Server
	helpers  map[string]*Plugin

	schemaMu    sync.Mutex
	refl        *schema // discovered through reflection (or its cache), kept for the plugin's life
	protoset    *schema // spec.Protoset, hash-checked once, kept likewise
	reflections int     // reflection round trips made (for tests)
}

// Protocols a plugin may speak, as Protocol reports them.
const (
	ProtocolGRPC   = "grpc"
	ProtocolNetRPC = "netrpc"
)

// Close-time bounds. A plugin gets shutdownGrace to exit after being asked
// to; then its group is killed, and the pipes are cut after pipeGrace if
// something outside the group still holds them.
const (
	shutdownGrace = 500 * time.Millisecond
	reapGrace     = 2 * time.Second
	pipeGrace     = time.Second
)

// Launch verifies the executable against spec.SHA256 and starts it through
// go-plugin. ctx bounds the start and handshake and, like
// exec.CommandContext, the plugin's life: when ctx is done the process group
// is killed. Without a deadline on ctx, the handshake may take a minute
// (go-plugin's default). Close must be called in any case once Launch
// succeeds.
//
// Errors: a *verify.MismatchError when the binary changed since install (it
// is never run); a *PluginError when it would not start or the handshake
// failed; other errors for a bad Spec or Options.
func Launch(ctx context.Context, spec Spec, opt Options) (*Plugin, error) {
	spec, mode, err := checkSpec(spec, opt)
	if err != nil {
		return nil, err
	}
	proto := spec.Protocol
	if err := ctx.Err(); err != nil {
		return nil, &PluginError{Name: spec.Name, Op: OpStart, Err: err}
	}

	exeFile, execPath, err := verifiedExec(spec)
	if err != nil {
		return nil, err
	}
	defer exeFile.Close() // after the start: the child has exec'd by then

	runDir := opt.RunDir
	if runDir == "" && opt.Home.Home != "" {
		d, err := opt.Home.EnsureRun()
		if err != nil {
			return nil, fmt.Errorf("plugin %s: run directory: %w", spec.Name, err)
		}
		runDir = d
	}
	// go-plugin puts the socket at <runDir>/plugin-dirN/pluginN; a deep home
	// falls back to a fresh 0700 directory under the system's temp dir.
	if !socketFits(runDir, "/plugin-dir0123456789/plugin0123456789") {
		runDir = ""
	}

	var tlsConf *tls.Config
	var clientCertPEM []byte
	if mode == store.MTLSTrue {
		// go-plugin's loadServerCert fills RootCAs (and ClientCAs) from the
		// certificate on the plugin's handshake line.
		if tlsConf, clientCertPEM, err = hostTLSConfig(opt.Home); err != nil {
			return nil, fmt.Errorf("plugin %s: %w", spec.Name, err)
		}
	}

	var allowed []plugin.Protocol
	switch proto.Kind {
	case store.KindGRPC:
		allowed = []plugin.Protocol{plugin.ProtocolGRPC}
	case store.KindNetRPC:
		allowed = []plugin.Protocol{plugin.ProtocolNetRPC}
	default:
		allowed = []plugin.Protocol{plugin.ProtocolGRPC, plugin.ProtocolNetRPC}
	}
	// go-plugin offers the versions in VersionedPlugins and accepts
	// whichever one the plugin announces; the placeholder is never
	// dispensed (calls are made generically on the connection).
	versioned := make(map[int]plugin.PluginSet, len(proto.Versions))
	for _, v := range proto.Versions {
		versioned[v] = plugin.PluginSet{proto.Dispense: placeholder{}}
	}

	stderr := &stderrWatch{}
	pluginLog, stdio := pluginOutput(spec.Name, opt)
	logger := &hostLogger{Logger: pluginLog}
	bw := newBrokerWatch()
	var rn atomic.Pointer[procRunner]
	killed := new(atomic.Bool)
	var socketDir atomic.Pointer[string]
	runnerFunc := func(_ hclog.Logger, cmd *exec.Cmd, dir string) (runner.Runner, error) {
		socketDir.Store(&dir)
		// cmd.Env holds go-plugin's variables only (SkipHostEnv).
		env := pluginEnv(proto, opt, cmd.Env, clientCertPEM)
		r, err := newProcRunner(filepath.Base(spec.Exe), pluginCmd(execPath, spec.Exe, opt.Dir, env))
		if err != nil {
			return nil, err
		}
		r.killed = killed
		rn.Store(r)
		return r, nil
	}

	cfg := &plugin.ClientConfig{
		HandshakeConfig: plugin.HandshakeConfig{
			MagicCookieKey:   proto.CookieKey,
			MagicCookieValue: proto.CookieValue,
		},
		VersionedPlugins: versioned,
		RunnerFunc:       runnerFunc,
		TLSConfig:        tlsConf,
		StartTimeout:     startTimeout(ctx),
		Stderr:           stderr,
		SyncStdout:       stdio,
		SyncStderr:       stdio,
		AllowedProtocols: allowed,
		Logger:           logger,
		UnixSocketConfig: &plugin.UnixSocketConfig{TempDir: runDir},
		SkipHostEnv:      true, // hostEnv decides what the plugin gets
		GRPCDialOptions:  []grpc.DialOption{bw.dialOption()},
	}
	client := plugin.NewClient(cfg)
	p := &Plugin{spec: spec, client: client, stderr: stderr, hostLog: logger, forwards: showsOutput(opt.Logger), opt: opt, bw: bw}
	if proto.Kind != store.KindNetRPC {
		// While the plugin starts (its runtime, its handshake: most of a
		// cold call), load the schema a call would read next.
		p.preloadSchema()
	}

	type result struct {
		addr net.Addr
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		defer func() {
			// go-plugin's client dereferences its nil TLSConfig when a
			// plugin's handshake line carries a certificate although the
			// host asked for no TLS: a panic in Start, not an error.
			if r := recover(); r != nil {
				ch <- result{err: ErrUnaskedCert}
			}
		}()
		addr, err := client.Start()
		ch <- result{addr, err}
	}()
	var res result
	select {
	case res = <-ch:
	case <-ctx.Done():
		killed.Store(true)
		if r := rn.Load(); r != nil {
			_ = r.Kill(context.Background())
		}
		res = <-ch
		res.err = ctx.Err()
	}
	p.runner = rn.Load()
	if dir := socketDir.Load(); dir != nil {
		p.socketDir = *dir
	}
	if res.err != nil {
		p.reap()
		if dir := socketDir.Load(); dir != nil {
			// go-plugin's Kill removes it only if a process started.
			_ = os.RemoveAll(*dir)
		}
		return nil, p.startError(res.err, proto)
	}

	// Nothing has dialled the address yet: it must be the plugin's own.
	dir := ""
	if d := socketDir.Load(); d != nil {
		dir = *d
	}
	if warn, err := checkHandshakeAddr(res.addr, dir, p.runner.Pid()); err != nil {
		p.refuse(dir)
		return nil, &PluginError{Name: spec.Name, Op: OpHandshake, Err: err}
	} else if warn != "" {
		logger.Warn(warn, HostWarning, true)
	}
	fail := func(op string, err error) (*Plugin, error) {
		_ = p.Close()
		return nil, &PluginError{Name: spec.Name, Op: op, Err: err, Panic: stderr.panicLine()}
	}
	if mode == store.MTLSTrue && tlsConf.RootCAs == nil {
		return fail(OpHandshake, ErrNoPluginCert)
	}
	warnPlainTCP(logger, res.addr, mode)
	p.proto = string(client.Protocol())
	if err := p.connect(ctx, res.addr, nil, tlsConf, stdio); err != nil {
		return fail(OpHandshake, err)
	}
	p.stopWatch = context.AfterFunc(ctx, func() { _ = p.runner.Kill(context.Background()) })
	return p, nil
}

// checkSpec validates what Launch and Start are asked to run, and returns
// spec with its protocol's defaults applied and the mTLS mode in force.
func checkSpec(spec Spec, opt Options) (Spec, store.MTLSMode, error) {
	proto := spec.Protocol.WithDefaults(spec.Name)
	if err := proto.Validate(); err != nil {
		return spec, "", fmt.Errorf("plugin %s: %w", spec.Name, err)
	}
	spec.Protocol = proto
	mode := proto.MTLS
	if opt.MTLS != "" {
		mode = opt.MTLS
	}
	switch mode {
	case store.MTLSAuto, store.MTLSTrue, store.MTLSFalse:
	default:
		return spec, "", fmt.Errorf("plugin %s: mtls %q: want auto, true or false", spec.Name, mode)
	}
	if !filepath.IsAbs(spec.Exe) {
		return spec, "", fmt.Errorf("plugin %s: executable path %q is not absolute", spec.Name, spec.Exe)
	}
	if spec.SHA256 == "" {
		return spec, "", fmt.Errorf("plugin %s: no sha256 for %s: refusing to run an unverified executable", spec.Name, spec.Exe)
	}
	return spec, mode, nil
}

// socketFits reports whether a unix socket at dir+rest fits in a socket
// address.
func socketFits(dir, rest string) bool { return store.SocketPathFits(dir + rest) }

// hostTLSConfig is the host's side of mTLS with the home's certificate
// (made once per home), and that certificate in PEM for PLUGIN_CLIENT_CERT.
// The caller adds the plugin's certificate to RootCAs and ClientCAs.
func hostTLSConfig(home store.Paths) (*tls.Config, []byte, error) {
	cert, certPEM, err := hostCertificate(home)
	if err != nil {
		return nil, nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, ServerName: "localhost"}, certPEM, nil
}

// pluginOutput is the logger go-plugin is given for the plugin (opt.Logger
// named after it, or one that discards), and where the plugin's synced
// stdio goes: each line to that logger at Info.
func pluginOutput(name string, opt Options) (hclog.Logger, io.Writer) {
	if opt.Logger == nil {
		return hclog.NewNullLogger(), io.Discard
	}
	l := opt.Logger.Named(name)
	return l, &logWriter{l: l}
}

// hostLogger is the logger Launch gives go-plugin's client: the plugin's
// logger, except that go-plugin's own lines stop once Close begins, where
// they would report the exit we asked for as failures ("plugin failed to
// exit gracefully", a "client" error once the plugin is gone, "plugin
// process exited" with the kill's signal). Its Named children, through
// which go-plugin forwards the plugin's own logs and stdio, are not muted.
type hostLogger struct {
	hclog.Logger
	muted atomic.Bool
}

func (l *hostLogger) Log(level hclog.Level, msg string, args ...any) {
	if !l.muted.Load() {
		l.Logger.Log(level, msg, args...)
	}
}
func (l *hostLogger) Trace(msg string, args ...any) { l.Log(hclog.Trace, msg, args...) }
func (l *hostLogger) Debug(msg string, args ...any) { l.Log(hclog.Debug, msg, args...) }
func (l *hostLogger) Info(msg string, args ...any)  { l.Log(hclog.Info, msg, args...) }
func (l *hostLogger) Warn(msg string, args ...any)  { l.Log(hclog.Warn, msg, args...) }
func (l *hostLogger) Error(msg string, args ...any) { l.Log(hclog.Error, msg, args...) }

// pluginEnv is a plugin's whole environment: what hostEnv lets through of
// ours, then noCacheEnv, then the protocol's Env (its profile's), then
// opt.Env, then goPlugin (go-plugin's handshake variables), which
// nothing overrides (for a name given twice the last value wins), then
// PLUGIN_CLIENT_CERT, always set so that one in our own environment never
// reaches the plugin (empty: no mTLS).
func pluginEnv(proto store.Protocol, opt Options, goPlugin []string, certPEM []byte) []string {
	env := filterEnv(hostEnv(os.Environ(), opt), proto.CookieKey)
	env = append(env, noCacheEnv[:]...)
	env = append(env, filterEnv(proto.Env, proto.CookieKey)...)
	env = append(env, filterEnv(opt.Env, proto.CookieKey)...)
	env = append(env, goPlugin...)
	return append(env, "PLUGIN_CLIENT_CERT="+string(certPEM))
}

// HostWarning is the key of an argument (true) that marks this package's
// own warnings on Options.Logger (as opposed to go-plugin's lines and the
// plugin's logs), so that a host can show them even when it shows no
// plugin logs (hclog.LoggerOptions.Exclude).
const HostWarning = "host-warning"

// warnPlainTCP warns that a plugin listens where other local users can reach
// it without mTLS.
func warnPlainTCP(l hclog.Logger, addr net.Addr, mode store.MTLSMode) {
	if addr.Network() == "tcp" && mode == store.MTLSAuto {
		l.Warn("the plugin listens on plain TCP ("+addr.String()+"), which other local users can reach; require mTLS (protocol.mtls true) if it supports go-plugin's mTLS", HostWarning, true)
	}
}

// connect opens what calls go through, once go-plugin's client has the
// plugin's address: go-plugin's gRPC connection, or a net/rpc session of
// rpcwire's on a connection of our own (pre's when set, else dialed).
func (p *Plugin) connect(ctx context.Context, addr net.Addr, pre *dialedConn, tlsConf *tls.Config, stdio io.Writer) error {
	p.mtls, p.tls = tlsConf != nil, tlsConf
	switch p.proto {
	case ProtocolGRPC:
		if p.client == nil {
			conn, err := plainGRPC(addr, pre, tlsConf)
			if err != nil {
				return fmt.Errorf("connect: %w", err)
			}
			p.conn = conn
			return nil
		}
		gc, err := p.grpcClient()
		if err != nil {
			return fmt.Errorf("connect: %w", err)
		}
		p.conn = gc.Conn
		return nil
	case ProtocolNetRPC:
		return p.connectNetRPC(ctx, addr, pre.take(), tlsConf, stdio)
	}
	return fmt.Errorf("handshake failed: unknown protocol %q", p.proto)
}

// grpcClient is go-plugin's client of a gRPC plugin: made once, at connect,
// and asked again for its broker (grpcBroker).
func (p *Plugin) grpcClient() (*plugin.GRPCClient, error) {
	if p.client == nil {
		// A started plugin reached on a plain connection (attachStarted).
		return nil, fmt.Errorf("a started plugin is reached without go-plugin's client, whose broker stream would close the plugin's broker for good when this host leaves: %w", ErrUnsupported)
	}
	cp, err := p.client.Client()
	if err != nil {
		return nil, err
	}
	gc, ok := cp.(*plugin.GRPCClient)
	if !ok {
		return nil, fmt.Errorf("unexpected gRPC client %T", cp)
	}
	return gc, nil
}

// verifiedExec makes sure that what spec names may run: nobody else can
// change it (StrictModes: *UnsafePathError), and its content is what the
// receipt recorded (*verify.MismatchError). The file is verified through a
// descriptor that stays open, and execPath executes that very descriptor
// where the platform allows (ELF on Linux: /proc/self/fd/N), so a file
// swapped in at the path after the check never runs. The caller closes f
// once the child has exec'd (it is close-on-exec: the plugin does not get it).
func verifiedExec(spec Spec) (f *os.File, execPath string, err error) {
	if err := checkOwnership(spec); err != nil {
		return nil, "", err
	}
	f, err = os.Open(spec.Exe)
	if err != nil {
		return nil, "", &PluginError{Name: spec.Name, Op: OpStart, Err: fmt.Errorf("would not start: executable: %w", err)}
	}
	if err := verify.CheckOpenExecutable(f, spec.SHA256, spec.RecordPath); err != nil {
		f.Close()
		var me *verify.MismatchError
		if errors.As(err, &me) {
			return nil, "", err
		}
		return nil, "", &PluginError{Name: spec.Name, Op: OpStart, Err: fmt.Errorf("would not start: %w", err)}
	}
	execPath, ok := fdExecPath(f)
	if !ok {
		// A #! script (its interpreter could not open /proc/self/fd/N) or no
		// /proc: exec by path. StrictModes keeps other users from swapping
		// it; only the user's own processes could.
		execPath = spec.Exe
	}
	if afterCheckHook != nil {
		afterCheckHook()
	}
	return f, execPath, nil
}

// placeholder fills go-plugin's plugin sets. Dispensing it yields the
// connection's broker (grpcBroker): calls are made generically on the
// connection.
type placeholder struct{ plugin.NetRPCUnsupportedPlugin }

func (placeholder) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error { return ErrUnsupported }
func (placeholder) GRPCClient(_ context.Context, b *plugin.GRPCBroker, _ *grpc.ClientConn) (any, error) {
	return b, nil
}

// startTimeout gives go-plugin's own start timer the time left before ctx's
// deadline (ctx is watched too, for cancellation).
func startTimeout(ctx context.Context) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		if d := time.Until(dl); d > 0 {
			return d
		}
		return time.Millisecond
	}
	return time.Minute
}

// startError turns go-plugin's start errors into one-line *PluginErrors.
func (p *Plugin) startError(err error, proto store.Protocol) error {
	pe := &PluginError{Name: p.spec.Name, Op: OpHandshake, Panic: p.stderr.panicLine()}
	status, exited := "", false
	if p.runner != nil {
		status, exited = p.runner.exitStatus()
	}
	msg := err.Error()
	gp := readGoPluginStart(msg)
	switch {
	case p.runner != nil && p.runner.startErr != nil:
		pe.Op = OpStart
		pe.Err = fmt.Errorf("would not start: %w", p.runner.startErr)
	case p.runner == nil:
		pe.Op = OpStart
		pe.Err = fmt.Errorf("would not start: %w", err)
	case errors.Is(err, context.DeadlineExceeded) || gp.kind == gpTimeout:
		pe.Err = errHandshakeTimeout
	case errors.Is(err, context.Canceled):
		pe.Err = errHandshakeCancelled(err)
	case p.stderr.sawCookieNotice():
		pe.Err = errWrongCookie
	case gp.kind == gpIncompatible:
		got := "another version"
		if gp.version != "" {
			got = "version " + gp.version
		}
		pe.Err = errIncompatible(got, proto)
	case gp.kind == gpUnsupported:
		speaks := string(p.client.Protocol())
		if gp.protocol != "" {
			speaks = gp.protocol
		}
		pe.Err = errWrongKind(speaks, proto)
	case errors.Is(err, ErrUnaskedCert):
		pe.Err = err
	case gp.kind == gpBadCert:
		pe.Err = fmt.Errorf("handshake failed: %s", firstLine(msg))
	case exited || gp.kind == gpExited:
		if status == "" {
			status = "exited"
		}
		if gp.kind == gpUnrecognized && gp.line != "" {
			pe.Err = errUnrecognizedLine(gp.line, status, p.stderr)
		} else {
			pe.Err = errExitedBeforeHandshake(status, p.stderr)
		}
	case gp.kind == gpUnrecognized:
		pe.Err = errUnrecognizedLine(gp.line, "", p.stderr)
	default:
		pe.Err = fmt.Errorf("handshake failed: %s", firstLine(msg))
	}
	return pe
}

// Why a plugin did not complete its handshake, whether Launch (through
// go-plugin) or Start (reading its stdout file) started it.
var (
	errHandshakeTimeout = fmt.Errorf("timed out waiting for the handshake (killed): %w", context.DeadlineExceeded)
	errWrongCookie      = errors.New("handshake failed: the plugin expects a different magic cookie (protocol.cookieKey/cookieValue in the index)")
)

// The two ways a plugin's handshake disagrees with the mTLS mode in force
// (protocol.mtls, or Options.MTLS), wrapped in a *PluginError.
var (
	// ErrNoPluginCert: mTLS is required but the plugin sent no
	// certificate (it does not speak go-plugin's mTLS).
	ErrNoPluginCert = errors.New("handshake failed: mtls is required but the plugin sent no certificate (it does not speak go-plugin's mTLS)")
	// ErrUnaskedCert: the plugin sent a certificate although mTLS is off.
	ErrUnaskedCert = errors.New("handshake failed: the plugin sent a TLS certificate although mtls is off")
)

func errHandshakeCancelled(err error) error {
	return fmt.Errorf("cancelled before the handshake (killed): %w", err)
}

// errIncompatible: the plugin announced a protocol version (got: "version
// N") that proto does not offer.
func errIncompatible(got string, proto store.Protocol) error {
	return fmt.Errorf("handshake failed: incompatible API version: the plugin speaks protocol %s, plugctl offered %s (protocol.version in the index)", got, proto.Versions)
}

func errWrongKind(speaks string, proto store.Protocol) error {
	return fmt.Errorf("handshake failed: the plugin speaks %s, but protocol.kind is %s", speaks, proto.Kind)
}

// errUnrecognizedLine: the first line on the plugin's stdout is not a
// handshake (go-plugin: "Unrecognized remote plugin message"). status is how
// the plugin exited, empty while it runs.
func errUnrecognizedLine(line, status string, stderr *stderrWatch) error {
	if status == "" {
		return fmt.Errorf("handshake failed: unrecognized first line on stdout %q (not a go-plugin plugin, or it printed before serving)", truncate(line))
	}
	return fmt.Errorf("handshake failed: unrecognized first line on stdout %q (%s)%s", truncate(line), status, stderr.detail())
}

func errExitedBeforeHandshake(status string, stderr *stderrWatch) error {
	return fmt.Errorf("plugin exited before the handshake (%s)%s", status, stderr.detail())
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// Protocol returns the negotiated protocol: "grpc" or "netrpc".
func (p *Plugin) Protocol() string { return p.proto }

// Pid returns the plugin's process id.
func (p *Plugin) Pid() int {
	switch {
	case p.runner != nil:
		return p.runner.Pid()
	case p.attach != nil:
		return p.attach.st.Pid
	}
	return 0
}

// Spec returns the Spec the plugin was launched with, defaults applied.
func (p *Plugin) Spec() Spec { return p.spec }

// Close ends a launched plugin: it asks it to exit, gives it shutdownGrace,
// then kills its whole process group and waits, within bounds, for it to be
// reaped. On a started plugin that Attach returned, Close only drops the
// connection: the plugin is neither asked to exit nor killed. It is safe to
// call more than once. The error is there for io.Closer and is always nil:
// every step is bounded and best effort, and the caller could do nothing more.
func (p *Plugin) Close() error {
	p.closeOnce.Do(func() {
		p.endBrokered()
		if p.attach != nil {
			p.attach.detach()
			p.dropConn()
			return
		}
		if p.stopWatch != nil {
			p.stopWatch()
		}
		if p.hostLog != nil {
			p.hostLog.muted.Store(true)
		}
		p.shutdown()
		p.reap()
	})
	return nil
}

// CloseAtExit ends a launched plugin at once, for a host that exits right
// after: its process group is killed and its socket directory removed, but
// the plugin is not asked to exit first, and, unless its output is shown
// (Options.Logger), not waited for (the process left behind is reaped once
// the host is gone); shown output is let drain to its last line. A plugin
// that must clean up when it stops needs Close, which asks it to exit and
// waits. On a started plugin that Attach returned, CloseAtExit is Close:
// the connection is dropped, the plugin keeps running.
func (p *Plugin) CloseAtExit() {
	if p.runner == nil {
		_ = p.Close()
		return
	}
	p.closeOnce.Do(func() {
		p.endBrokered()
		if p.stopWatch != nil {
			p.stopWatch()
		}
		if p.hostLog != nil {
			p.hostLog.muted.Store(true)
		}
		if p.forwards {
			p.reap() // kills the group, then waits for the pipes to end
		} else {
			_ = p.runner.Kill(context.Background())
		}
		if p.socketDir != "" {
			_ = os.RemoveAll(p.socketDir)
		}
	})
}

// hasExited reports whether the plugin's process is known to be gone.
func (p *Plugin) hasExited() bool {
	if p.client != nil {
		return p.client.Exited()
	}
	select {
	case <-p.exited():
		return true
	default:
		return false
	}
}

// address is where the plugin listens.
func (p *Plugin) address() net.Addr {
	if p.client != nil {
		if rc := p.client.ReattachConfig(); rc != nil {
			return rc.Addr
		}
		return nil
	}
	if p.attach != nil {
		if rc, err := p.attach.st.ReattachConfig(); err == nil {
			return rc.Addr
		}
	}
	return nil
}

// exited is closed once the plugin's process is known to be gone.
func (p *Plugin) exited() <-chan struct{} {
	switch {
	case p.runner != nil:
		return p.runner.exited
	case p.attach != nil:
		return p.attach.gone
	}
	return nil
}

// exitStatus describes how the plugin's process ended, once it has.
func (p *Plugin) exitStatus() (string, bool) {
	switch {
	case p.runner != nil:
		return p.runner.exitStatus()
	case p.attach != nil:
		return p.attach.exitStatus()
	}
	return "", false
}

// shutdown asks a launched plugin to exit on its own: go-plugin's controller
// for gRPC, Control.Quit for net/rpc.
func (p *Plugin) shutdown() {
	if p.runner == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if p.quit(ctx) {
		select {
		case <-p.runner.exited:
		case <-ctx.Done():
		}
	}
}

// quit asks the plugin to exit (go-plugin's GRPCController.Shutdown or
// net/rpc's Control.Quit) and reports whether it was asked: Launch's Close,
// and Stop on a started plugin, use it; an attached Plugin's Close never
// does.
func (p *Plugin) quit(ctx context.Context) bool {
	switch {
	case p.conn != nil:
		// Go plugins stop their server inside this call, so the reply may
		// be lost; either way the process is on its way out.
		err := p.conn.Invoke(ctx, "/plugin.GRPCController/Shutdown", &emptypb.Empty{}, &emptypb.Empty{})
		return err == nil || !isUnimplemented(err)
	case p.rpc != nil:
		return p.rpc.Quit(ctx) == nil
	}
	return false
}

// reap kills a launched plugin's process group and waits for go-plugin to
// finish with the process, cutting the pipes if a process outside the group
// holds them.
func (p *Plugin) reap() {
	r := p.runner
	if r != nil {
		_ = r.Kill(context.Background())
		select {
		case <-r.exited:
		case <-time.After(reapGrace):
			r.closePipes()
			select {
			case <-r.exited:
			case <-time.After(pipeGrace):
			}
		}
	}
	// go-plugin's Kill removes the socket directory and ends its goroutines;
	// once the process is gone it returns at once.
	done := make(chan struct{})
	go func() { p.client.Kill(); close(done) }()
	select {
	case <-done:
	case <-time.After(pipeGrace):
	}
	p.dropConn()
}

// refuse ends a launched plugin whose handshake named an address that is
// not its own: its process group is killed directly, and go-plugin's client
// is never asked to (its Kill dials the address to shut down what answers
// there: the very process the plugin pointed at). socketDir, go-plugin's
// directory for this launch, is removed here for the same reason.
func (p *Plugin) refuse(socketDir string) {
	if r := p.runner; r != nil {
		_ = r.Kill(context.Background())
		select {
		case <-r.exited:
		case <-time.After(reapGrace):
			r.closePipes()
		}
	}
	if socketDir != "" {
		_ = os.RemoveAll(socketDir)
	}
}

// dropConn closes our connections to the plugin, nothing more.
func (p *Plugin) dropConn() {
	p.pre.drop()
	if p.conn != nil {
		_ = p.conn.Close()
	}
	if p.rpc != nil {
		_ = p.rpc.Close()
	}
}

func isUnimplemented(err error) bool { return status.Code(err) == codes.Unimplemented }

// logMessage renders a JSON hclog line (go-plugin's plugin-side logger) as
// "message: error", and anything else as is.
func logMessage(line string) string {
	var entry map[string]any
	if json.Unmarshal([]byte(line), &entry) != nil {
		return line
	}
	msg, ok := entry["@message"].(string)
	if !ok {
		return line
	}
	if e, ok := entry["error"].(string); ok {
		msg += ": " + e
	}
	return msg
}

// showsOutput reports whether logger may show anything a plugin prints
// (its logs come at their own level, warnings and errors included): only
// then does ending the plugin wait for its output to drain.
func showsOutput(logger hclog.Logger) bool {
	return logger != nil && logger.GetLevel() != hclog.Off
}
