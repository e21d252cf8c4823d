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
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	plugin "github.com/hashicorp/go-plugin"
	"github.com/hashicorp/go-plugin/runner"
	"google.golang.org/grpc"

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
	return attachStarted(ctx, home, st, r, opt, false)
}

// AttachReceipt is Attach for the installed version whose receipt the
// caller has already read (it is not read again).
func AttachReceipt(ctx context.Context, home store.Paths, r *store.Receipt, opt Options) (p *Plugin, attached bool, err error) {
	st, err := ReadStarted(home, r.Name, r.Version)
	if err != nil {
		if errors.Is(err, ErrNotStarted) {
			return nil, false, nil
		}
		return nil, false, err
	}
	return attachStarted(ctx, home, st, r, opt, false)
}

// attachStarted connects to the started plugin st. Only the keeper
// (Keep) asks for go-plugin's client (withBroker): it opens the plugin's
// broker stream, and go-plugin closes a plugin's broker for good when any
// host's broker stream ends, so every other caller (start, health, ps,
// describe, calls without a keeper, a Manager) uses a plain connection,
// which leaves the broker alone and has none.
func attachStarted(ctx context.Context, home store.Paths, st *StartedPlugin, r *store.Receipt, opt Options, withBroker bool) (p *Plugin, attached bool, err error) {
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
	p, err = attachState(ctx, home, st, SpecFromReceipt(home, r), opt, withBroker)
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

// attachState builds a *Plugin connected to a started plugin: through
// go-plugin's client withBroker (see attachStarted), else on a plain
// connection. Its Close only drops the connection; Stop asks the plugin to
// exit with Plugin.quit.
func attachState(ctx context.Context, home store.Paths, st *StartedPlugin, spec Spec, opt Options, withBroker bool) (*Plugin, error) {
	rc, err := st.ReattachConfig()
	if err != nil {
		return nil, err
	}
	if st.Network == "unix" {
		// The plugin made its socket with its own umask: what keeps
		// others from it, or from replacing it, is the directory.
		if err := checkSocketDir(spec.Name, home, st.Address); err != nil {
			return nil, err
		}
	}
	spec.Protocol = spec.Protocol.WithDefaults(spec.Name)

	var tlsConf *tls.Config
	if st.MTLS {
		der, err := base64.RawStdEncoding.DecodeString(st.ServerCert)
		if err != nil {
			return nil, fmt.Errorf("plugin %s: server certificate in run file: %w", spec.Name, err)
		}
		sc, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("plugin %s: server certificate in run file: %w", spec.Name, err)
		}
		if tlsConf, _, err = hostTLSConfig(home); err != nil {
			return nil, fmt.Errorf("plugin %s: %w", spec.Name, err)
		}
		pool := x509.NewCertPool()
		pool.AddCert(sc)
		tlsConf.RootCAs, tlsConf.ClientCAs = pool, pool
	}

	// A dead socket is told from a slow plugin at once. This connection is
	// the one calls go through (net/rpc's session, or the first one of
	// gRPC's channel, which dials in the background): a warm call connects
	// once. The Plugin owns it from here (dropConn).
	var d net.Dialer
	dctx, cancel := context.WithTimeout(ctx, time.Second)
	c, err := d.DialContext(dctx, rc.Addr.Network(), rc.Addr.String())
	cancel()
	if err != nil {
		return nil, &deadSocketError{err}
	}
	pre := &dialedConn{conn: c}

	// go-plugin's lines about a reattached client mislead (it says "plugin
	// process exited" when we only drop the connection), and the plugin's
	// own logs are in its log file: go-plugin gets no logger, only the
	// stdio the plugin forwards during calls reaches opt.Logger.
	_, stdio := pluginOutput(spec.Name, opt)
	logger := hclog.NewNullLogger()
	a := &attachment{st: st, done: make(chan struct{}), gone: make(chan struct{})}
	if !withBroker {
		p := &Plugin{spec: spec, attach: a, stderr: &stderrWatch{}, proto: st.Protocol, pre: pre, opt: opt}
		go a.watch(p.stderr)
		if err := p.connect(ctx, rc.Addr, pre, tlsConf, stdio); err != nil {
			_ = p.Close()
			return nil, &PluginError{Name: spec.Name, Op: OpHandshake, Err: fmt.Errorf("reattach: %w", err)}
		}
		return p, nil
	}
	bw := newBrokerWatch()
	rc.ReattachFunc = func() (runner.AttachedRunner, error) { return a, nil }
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig: plugin.HandshakeConfig{MagicCookieKey: spec.Protocol.CookieKey, MagicCookieValue: spec.Protocol.CookieValue},
		Plugins:         plugin.PluginSet{spec.Protocol.Dispense: placeholder{}},
		Reattach:        rc,
		TLSConfig:       tlsConf,
		Logger:          logger,
		SyncStdout:      stdio,
		SyncStderr:      stdio,
		// go-plugin appends these after its own dialer: ours wins.
		GRPCDialOptions: []grpc.DialOption{grpc.WithContextDialer(pre.dialer(rc.Addr)), bw.dialOption()},
	})
	p := &Plugin{spec: spec, client: client, attach: a, stderr: &stderrWatch{}, proto: st.Protocol, pre: pre, opt: opt, bw: bw}
	go a.watch(p.stderr)

	if _, err := client.Start(); err != nil {
		a.detach()
		pre.drop()
		return nil, &PluginError{Name: spec.Name, Op: OpHandshake, Err: fmt.Errorf("reattach: %w", err)}
	}
	if err := p.connect(ctx, rc.Addr, pre, tlsConf, stdio); err != nil {
		_ = p.Close()
		return nil, &PluginError{Name: spec.Name, Op: OpHandshake, Err: fmt.Errorf("reattach: %w", err)}
	}
	return p, nil
}

// dialedConn hands a connection already made to whichever of net/rpc's
// session or gRPC's channel takes it first; later dials (gRPC reconnecting)
// make new ones.
type dialedConn struct {
	mu   sync.Mutex
	conn net.Conn
}

// take returns the connection once, then nil.
func (d *dialedConn) take() net.Conn {
	if d == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	c := d.conn
	d.conn = nil
	return c
}

// drop closes the connection if nothing took it.
func (d *dialedConn) drop() {
	if c := d.take(); c != nil {
		_ = c.Close()
	}
}

// dialer is a gRPC context dialer for addr that uses the connection first.
func (d *dialedConn) dialer(addr net.Addr) func(context.Context, string) (net.Conn, error) {
	return func(ctx context.Context, _ string) (net.Conn, error) {
		if c := d.take(); c != nil {
			return c, nil
		}
		var nd net.Dialer
		return nd.DialContext(ctx, addr.Network(), addr.String())
	}
}

// attachment is a started plugin we reattached to, and go-plugin's runner
// for it: Wait returns when the process is gone or the connection is
// dropped; Kill does nothing, and an empty ID makes go-plugin's Client.Kill a
// no-op (Plugin.Close never calls it on an attached plugin anyway).
type attachment struct {
	st   *StartedPlugin
	once sync.Once
	done chan struct{} // the connection was dropped
	gone chan struct{} // the process is gone; why says how we know
	why  error
}

// watch notices the process's death, so that a call failing meanwhile is
// reported as a crash, with the panic line from its log in stderr.
func (a *attachment) watch(stderr *stderrWatch) {
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
			stderr.readLog(a.st.Log)
			a.why = fmt.Errorf("its process (pid %d) is gone; log: %s", a.st.Pid, a.st.Log)
			close(a.gone)
			return
		}
	}
}

// detach ends the watch and go-plugin's wait on the process.
func (a *attachment) detach() { a.once.Do(func() { close(a.done) }) }

// exitStatus says that the process is gone, once it is.
func (a *attachment) exitStatus() (string, bool) {
	select {
	case <-a.gone:
		return a.why.Error(), true
	default:
		return "", false
	}
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
