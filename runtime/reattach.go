package runtime

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
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
)

// Attach connects to name@version when it was started with Start and still
// runs, and returns a *Plugin for Call, Describe and Ping. attached is false
// (with a nil error) when it was not started, when its process is gone (its
// run files are then removed), when its socket is dead, or when the installed
// receipt no longer matches the binary that was started: the caller then
// launches a fresh process.
//
// Close on an attached Plugin only drops the connection: the plugin is
// neither asked to exit (no GRPCController.Shutdown, no Control.Quit) nor
// killed. Stop ends it.
func Attach(ctx context.Context, home store.Paths, name, version string, opt Options) (p *Plugin, attached bool, err error) {
	st, err := ReadStarted(home, name, version)
	if err != nil {
		if errors.Is(err, ErrNotStarted) {
			return nil, false, nil
		}
		return nil, false, err
	}
	r, err := home.ReadReceipt(name, version)
	if err != nil {
		return nil, false, err
	}
	if !st.Alive() {
		cleanDead(home, st)
		return nil, false, nil
	}
	if !strings.EqualFold(st.SHA256, r.BinSHA256) {
		return nil, false, nil
	}
	if opt.MTLS != "" && opt.MTLS != store.MTLSAuto && (opt.MTLS == store.MTLSTrue) != st.MTLS {
		return nil, false, nil
	}
	if opt.Home.Home == "" {
		opt.Home = home
	}
	p, err = attachState(ctx, home, st, SpecFromReceipt(home, r), opt, false)
	if err != nil {
		var de *deadSocketError
		if errors.As(err, &de) {
			// The process runs but nothing answers: not usable, and
			// not reattachable later either.
			cleanDead(home, st)
			return nil, false, nil
		}
		return nil, false, err
	}
	return p, true, nil
}

// cleanDead removes the run files of a started plugin found dead (or
// deaf), under its lock; the process, if it still runs as recorded, has its
// group killed.
func cleanDead(home store.Paths, st *StartedPlugin) {
	unlock, err := lockRun(home, st.Name, st.Version, time.Second)
	if err != nil {
		return
	}
	defer unlock()
	cur, err := ReadStarted(home, st.Name, st.Version)
	if err != nil || cur.Pid != st.Pid || cur.ProcStart != st.ProcStart {
		return // replaced meanwhile
	}
	if cur.Alive() && cur.ProcStart != 0 {
		killGroup(cur.Pid)
	}
	removeRunFiles(home, cur)
}

type deadSocketError struct{ err error }

func (e *deadSocketError) Error() string { return "dead socket: " + e.err.Error() }

// attachState builds a *Plugin connected to a started plugin. With
// allowShutdown false, the connection refuses to send go-plugin's
// GRPCController.Shutdown and Control.Quit, so that the Plugin's Close (which
// asks a launched plugin to exit) only drops the connection.
func attachState(ctx context.Context, home store.Paths, st *StartedPlugin, spec Spec, opt Options, allowShutdown bool) (*Plugin, error) {
	rc, err := st.ReattachConfig()
	if err != nil {
		return nil, err
	}
	spec.Protocol = spec.Protocol.WithDefaults(spec.Name)
	// A dead socket is told from a slow plugin at once.
	var d net.Dialer
	dctx, cancel := context.WithTimeout(ctx, time.Second)
	c, err := d.DialContext(dctx, rc.Addr.Network(), rc.Addr.String())
	cancel()
	if err != nil {
		return nil, &deadSocketError{err}
	}
	c.Close()

	var tlsConf *tls.Config
	if st.MTLS {
		cert, _, err := hostCertificate(home)
		if err != nil {
			return nil, fmt.Errorf("plugin %s: %w", spec.Name, err)
		}
		der, err := base64.RawStdEncoding.DecodeString(st.ServerCert)
		if err != nil {
			return nil, fmt.Errorf("plugin %s: server certificate in run file: %w", spec.Name, err)
		}
		sc, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("plugin %s: server certificate in run file: %w", spec.Name, err)
		}
		pool := x509.NewCertPool()
		pool.AddCert(sc)
		tlsConf = &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, ClientCAs: pool, MinVersion: tls.VersionTLS12, ServerName: "localhost"}
	}

	logger := hclog.New(&hclog.LoggerOptions{Output: io.Discard, Level: hclog.Off})
	var stdio io.Writer = io.Discard
	if opt.Verbose && opt.Stderr != nil {
		pw := newPrefixWriter(opt.Stderr, spec.Name+": ")
		// Warn: go-plugin's debug lines about a reattached client (it
		// says "plugin process exited" when we only drop the connection)
		// would mislead; the plugin's own logs are in its log file.
		logger = hclog.New(&hclog.LoggerOptions{Output: pw, Level: hclog.Warn, DisableTime: true})
		stdio = pw
	}

	a := &attachment{st: st, home: home, done: make(chan struct{}), gone: make(chan struct{})}
	a.allowShutdown.Store(allowShutdown)
	rc.ReattachFunc = func() (runner.AttachedRunner, error) { return a, nil }
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig: plugin.HandshakeConfig{MagicCookieKey: spec.Protocol.CookieKey, MagicCookieValue: spec.Protocol.CookieValue},
		Plugins:         plugin.PluginSet{spec.Protocol.Dispense: placeholder{}},
		Reattach:        rc,
		TLSConfig:       tlsConf,
		Logger:          logger,
		SyncStdout:      stdio,
		SyncStderr:      stdio,
		GRPCDialOptions: []grpc.DialOption{grpc.WithChainUnaryInterceptor(a.refuseShutdown)},
	})
	// The Plugin's runner stands for a process we did not start and do
	// not own: already "reaped", so Close never signals it; exited closes
	// when the process is seen gone (for crash reports) or at Close.
	pr := &procRunner{name: filepath.Base(st.Exe), pid: st.Pid, reaped: true, exited: make(chan struct{}), leaderGone: make(chan struct{})}
	a.runner = pr
	p := &Plugin{spec: spec, opt: opt, client: client, runner: pr, stderr: &stderrWatch{}, proto: st.Protocol}
	a.plugin = p
	p.stopWatch = func() bool { a.detach(errDetached); return true }
	go a.watch()

	if _, err := client.Start(); err != nil {
		a.detach(errDetached)
		return nil, &PluginError{Name: spec.Name, Op: OpHandshake, Err: fmt.Errorf("reattach: %w", err)}
	}
	fail := func(err error) (*Plugin, error) {
		_ = p.Close()
		return nil, &PluginError{Name: spec.Name, Op: OpHandshake, Err: fmt.Errorf("reattach: %w", err)}
	}
	switch st.Protocol {
	case ProtocolGRPC:
		cp, err := client.Client()
		if err != nil {
			return fail(err)
		}
		gc, ok := cp.(*plugin.GRPCClient)
		if !ok {
			return fail(fmt.Errorf("unexpected gRPC client %T", cp))
		}
		p.conn = gc.Conn
	case ProtocolNetRPC:
		if err := p.connectNetRPC(ctx, rc.Addr, tlsConf, stdio); err != nil {
			return fail(err)
		}
		p.rpc = &attachedRPC{netrpcConn: p.rpc, a: a}
	default:
		return fail(fmt.Errorf("unknown protocol %q", st.Protocol))
	}
	return p, nil
}

var errDetached = errors.New("connection to the started plugin closed")

// attachment is go-plugin's runner for a started plugin we reattached to:
// Wait returns when the process is gone or the connection is dropped, Kill
// does nothing, and an empty ID makes go-plugin's Client.Kill a no-op.
type attachment struct {
	st            *StartedPlugin
	home          store.Paths
	runner        *procRunner
	plugin        *Plugin
	allowShutdown atomic.Bool
	once          sync.Once
	done          chan struct{} // the connection was dropped
	gone          chan struct{} // the process is gone
}

// watch notices the process's death, so that a call failing meanwhile is
// reported as a crash with the panic line from the log.
func (a *attachment) watch() {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-a.done:
			return
		case <-t.C:
			if a.st.Alive() {
				continue
			}
			if b, err := readTail(a.st.Log, 64<<10); err == nil {
				_, _ = a.plugin.stderr.Write(b)
				_, _ = a.plugin.stderr.Write([]byte("\n"))
			}
			close(a.gone)
			a.detach(fmt.Errorf("its process (pid %d) is gone; log: %s", a.st.Pid, a.st.Log))
			return
		}
	}
}

func (a *attachment) detach(why error) {
	a.once.Do(func() {
		a.runner.waitErr = why
		close(a.runner.exited)
		close(a.done)
	})
}

func (a *attachment) refuseShutdown(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if method == "/plugin.GRPCController/Shutdown" && !a.allowShutdown.Load() {
		return status.Error(codes.Unimplemented, "plugctl does not stop a started plugin it reattached to")
	}
	return invoker(ctx, method, req, reply, cc, opts...)
}

func (a *attachment) Wait(context.Context) error {
	select {
	case <-a.done:
	case <-a.gone:
	}
	return nil
}
func (a *attachment) Kill(context.Context) error { return nil }
func (a *attachment) ID() string                 { return "" }
func (a *attachment) PluginToHost(n, addr string) (string, string, error) {
	return n, addr, nil
}
func (a *attachment) HostToPlugin(n, addr string) (string, string, error) {
	return n, addr, nil
}

// attachedRPC is a net/rpc session with a started plugin whose Quit only
// goes through for Stop.
type attachedRPC struct {
	netrpcConn
	a *attachment
}

func (c *attachedRPC) Quit(ctx context.Context) error {
	if !c.a.allowShutdown.Load() {
		return errDetached
	}
	return c.netrpcConn.Quit(ctx)
}

// Ping passes rpcwire's health check through the wrapper.
func (c *attachedRPC) Ping(ctx context.Context) error {
	type pinger interface{ Ping(context.Context) error }
	if pc, ok := c.netrpcConn.(pinger); ok {
		return pc.Ping(ctx)
	}
	return ErrUnsupported
}

// quit asks a plugin attached for Stop to exit.
func (p *Plugin) quit(ctx context.Context) {
	switch {
	case p.conn != nil:
		_ = p.conn.Invoke(ctx, "/plugin.GRPCController/Shutdown", &emptypb.Empty{}, &emptypb.Empty{})
	case p.rpc != nil:
		_ = p.rpc.Quit(ctx)
	}
}

// readTail returns up to the last n bytes of a file.
func readTail(path string, n int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	off := fi.Size() - n
	if off < 0 {
		off = 0
	}
	b := make([]byte, fi.Size()-off)
	_, err = f.ReadAt(b, off)
	if errors.Is(err, io.EOF) {
		err = nil
	}
	return b, err
}
