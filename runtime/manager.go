package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	plugin "github.com/hashicorp/go-plugin"

	"github.com/plugctl/plugctl/store"
	"github.com/plugctl/plugctl/verify"
)

// ManagerOptions configure a Manager. The zero value is usable.
type ManagerOptions struct {
	// HealthInterval is how often every running plugin is probed (Ping);
	// one that fails is stopped and relaunched on next use. Zero means 30s;
	// negative disables the probes.
	HealthInterval time.Duration
	// HealthTimeout bounds one probe (default 5s).
	HealthTimeout time.Duration
	// BackoffMin and BackoffMax bound the exponential wait between
	// launches of a plugin that keeps failing or crashing (defaults 100ms
	// and 30s).
	BackoffMin, BackoffMax time.Duration
	// Attempts is how many launches one Get makes before it reports the
	// failure (default 3).
	Attempts int
	// DrainTimeout bounds how long a retired process (replaced by a new
	// version, or at Close) may take to finish the calls in flight on it
	// before it is stopped (default 30s).
	DrainTimeout time.Duration
	// UseStarted reattaches to a plugin started with Start (plugctl start)
	// when it runs the active version, instead of launching a process of
	// the Manager's own; Close then leaves it running.
	UseStarted bool

	// Launch is how every plugin is launched (and reattached to): its
	// Logger (where go-plugin's lines and the plugin's logs go), mTLS,
	// working directory and environment. Its Home is the Manager's.
	Launch Options
}

func (o ManagerOptions) withDefaults() ManagerOptions {
	if o.HealthInterval == 0 {
		o.HealthInterval = 30 * time.Second
	}
	if o.HealthTimeout <= 0 {
		o.HealthTimeout = 5 * time.Second
	}
	if o.BackoffMin <= 0 {
		o.BackoffMin = 100 * time.Millisecond
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = 30 * time.Second
	}
	if o.BackoffMax < o.BackoffMin {
		o.BackoffMax = o.BackoffMin
	}
	if o.Attempts <= 0 {
		o.Attempts = 3
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = 30 * time.Second
	}
	return o
}

// ErrManagerClosed is returned by a Manager's methods after Shutdown (or
// Close).
var ErrManagerClosed = errors.New("plugin manager closed")

// ErrRetired is wrapped (in a *PluginError) by calls on a Client whose
// process was stopped after a restart, an upgrade or Close: get a new
// Client from Manager.Get.
var ErrRetired = errors.New("this client's plugin process was replaced or stopped; get a new client from Manager.Get")

// Manager runs the installed plugins of a home for a host application: Get
// launches the active version of a plugin on first use and reuses it after;
// a background probe checks every running plugin's health; a plugin that
// crashed or failed its probe is relaunched on next use, with exponential
// backoff while it keeps failing; when the active version changes (plugctl
// use or upgrade, from any process), the next Get launches the new version
// and the old process is drained (calls in flight finish) and stopped.
// Shutdown (or Close) stops everything. A Manager is safe for concurrent use.
type Manager struct {
	home   store.Paths
	opts   ManagerOptions
	base   context.Context // of every launch: cancel kills them all
	cancel context.CancelFunc
	// health is the health loop's, ended first by Shutdown.
	health     context.Context
	stopHealth context.CancelFunc

	mu      sync.Mutex
	closed  bool
	plugins map[string]*managed

	wg sync.WaitGroup // the health loop and draining processes

	hurry     chan struct{} // closed when Shutdown's ctx ends: stop draining
	hurryOnce sync.Once
}

// managed is one plugin name: its running process and restart state.
type managed struct {
	name string

	mu       sync.Mutex // serializes Get's launches of this name
	cur      *instance
	stamp    fileStamp // of plugins/<name>/current when active was read
	active   string
	failures int
	nextTry  time.Time
	lastErr  error
}

// instance is one running process of a plugin.
type instance struct {
	name, version string
	plugin        *Plugin
	attached      bool
	started       time.Time
	cancel        context.CancelFunc

	mu       sync.Mutex
	inflight int
	retired  bool
	closed   bool
	idle     chan struct{} // closed once retired with nothing in flight

	unhealthy atomic.Bool

	dispMu     sync.Mutex
	rpcConn    net.Conn
	rpcClient  *plugin.RPCClient
	rpcPlugins plugin.PluginSet
}

// OpenManager returns a Manager for the plugins installed in home. Nothing is
// launched until Get.
func OpenManager(home store.Paths, opts ManagerOptions) (*Manager, error) {
	if home.Home == "" {
		return nil, errors.New("plugin manager: no home")
	}
	if _, err := os.Stat(home.Home); err != nil {
		return nil, fmt.Errorf("plugin manager: %w", err)
	}
	if _, err := home.EnsureRun(); err != nil {
		return nil, fmt.Errorf("plugin manager: run directory: %w", err)
	}
	m := &Manager{home: home, opts: opts.withDefaults(), plugins: map[string]*managed{}, hurry: make(chan struct{})}
	m.base, m.cancel = context.WithCancel(context.Background())
	m.health, m.stopHealth = context.WithCancel(m.base)
	if m.opts.HealthInterval > 0 {
		m.wg.Add(1)
		go m.healthLoop()
	}
	return m, nil
}

// Client is a ready connection to one running process of a plugin. Calls
// through it are counted, so that a process being replaced finishes them
// before it stops. A Client is bound to its process: after a restart or an
// upgrade its calls fail with ErrRetired, so take a Client from Get for each
// unit of work (Get is cheap once the plugin runs: a stat and a map lookup).
type Client struct {
	inst *instance
}

// Name, Version, Pid and Protocol describe the process behind the Client.
func (c *Client) Name() string     { return c.inst.name }
func (c *Client) Version() string  { return c.inst.version }
func (c *Client) Pid() int         { return c.inst.plugin.Pid() }
func (c *Client) Protocol() string { return c.inst.plugin.Protocol() }

// Call is Plugin.Call on the Client's process.
func (c *Client) Call(ctx context.Context, method string, args []byte, co CallOptions, emit func(json []byte) error) error {
	if err := c.inst.acquire(); err != nil {
		return err
	}
	defer c.inst.release()
	err := c.inst.plugin.Call(ctx, method, args, co, emit)
	c.inst.noteFailure(ctx, err)
	return err
}

// Ping is Plugin.Ping on the Client's process.
func (c *Client) Ping(ctx context.Context) error {
	if err := c.inst.acquire(); err != nil {
		return err
	}
	defer c.inst.release()
	err := c.inst.plugin.Ping(ctx)
	c.inst.noteFailure(ctx, err)
	return err
}

// Describe is Plugin.Describe on the Client's process.
func (c *Client) Describe(ctx context.Context, co CallOptions) (*Description, error) {
	if err := c.inst.acquire(); err != nil {
		return nil, err
	}
	defer c.inst.release()
	return c.inst.plugin.Describe(ctx, co)
}

// Dispense returns the plugin's implementation of its interface through
// the host's own plugin.Plugin for the plugin's dispense name (go-plugin's
// ClientProtocol.Dispense with the host's plugin map), ready to be
// type-asserted, as a go-plugin host does. The value is bound to this
// process (see Client) and is not counted as a call in flight.
//
// gRPC plugins are dispensed on the Client's connection (with go-plugin's
// broker); net/rpc plugins on a second connection made once per process.
// net/rpc with mTLS is not supported, nor a gRPC plugin started with Start
// that the Manager reattached to (UseStarted): it is reached without
// go-plugin's client, whose broker stream would close the plugin's broker
// for good when this host leaves.
func (c *Client) Dispense(plugins plugin.PluginSet) (any, error) {
	inst := c.inst
	p := inst.plugin
	name := p.spec.Protocol.Dispense
	raw, ok := plugins[name]
	if !ok {
		return nil, fmt.Errorf("plugin %s: the host's plugin set has no %q (the plugin's dispense name)", inst.name, name)
	}
	if err := inst.acquire(); err != nil {
		return nil, err
	}
	defer inst.release()
	inst.dispMu.Lock()
	defer inst.dispMu.Unlock()
	switch p.proto {
	case ProtocolGRPC:
		gc, err := p.grpcClient()
		if err != nil {
			return nil, &PluginError{Name: inst.name, Op: OpCall, Err: fmt.Errorf("dispense: %w", err)}
		}
		// go-plugin's client was made with a placeholder plugin set;
		// Dispense is the only reader of Plugins.
		old := gc.Plugins
		gc.Plugins = plugin.PluginSet{name: raw}
		v, err := gc.Dispense(name)
		gc.Plugins = old
		return v, err
	case ProtocolNetRPC:
		if inst.rpcClient == nil {
			if p.mtls {
				return nil, fmt.Errorf("plugin %s: dispensing a net/rpc plugin over mTLS: %w", inst.name, ErrUnsupported)
			}
			addr := p.address()
			if addr == nil {
				return nil, fmt.Errorf("plugin %s: dispense: no address", inst.name)
			}
			conn, err := net.Dial(addr.Network(), addr.String())
			if err != nil {
				return nil, &PluginError{Name: inst.name, Op: OpCall, Err: fmt.Errorf("dispense: %w", err)}
			}
			inst.rpcPlugins = plugin.PluginSet{}
			rpcc, err := plugin.NewRPCClient(conn, inst.rpcPlugins)
			if err != nil {
				conn.Close()
				return nil, &PluginError{Name: inst.name, Op: OpCall, Err: fmt.Errorf("dispense: %w", err)}
			}
			_ = rpcc.SyncStreams(io.Discard, io.Discard)
			inst.rpcConn, inst.rpcClient = conn, rpcc
		}
		inst.rpcPlugins[name] = raw
		return inst.rpcClient.Dispense(name)
	}
	return nil, fmt.Errorf("plugin %s: protocol %q: %w", inst.name, p.proto, ErrUnsupported)
}

// Get returns a Client of the active version of the plugin name, launching
// it when it does not run (or no longer does, or runs another version).
// ctx bounds the launch, not the plugin's life.
//
// Errors: store.ErrNotInstalled (wrapped) when name has no active version;
// a *verify.MismatchError when its binary changed since install; a
// *PluginError when it would not start after ManagerOptions.Attempts
// launches (or while it waits out its backoff after repeated failures);
// ErrManagerClosed after Close.
func (m *Manager) Get(ctx context.Context, name string) (*Client, error) {
	if err := store.ValidName(name); err != nil {
		return nil, err
	}
	mp, err := m.entry(name)
	if err != nil {
		return nil, err
	}
	mp.mu.Lock()
	defer mp.mu.Unlock()
	version, err := mp.activeVersion(m.home)
	if err != nil {
		return nil, err
	}
	if inst := mp.cur; inst != nil {
		if inst.version == version && inst.usable() {
			return &Client{inst}, nil
		}
		mp.cur = nil
		if !inst.usable() {
			mp.crashed(inst, m.opts)
		}
		m.retire(inst)
	}
	inst, err := m.launch(ctx, mp, version)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	closed := m.closed
	m.mu.Unlock()
	if closed { // Close ran meanwhile and will not see this one
		inst.close()
		return nil, ErrManagerClosed
	}
	mp.cur = inst
	return &Client{inst}, nil
}

// Call calls method of the plugin name's active version with args (JSON)
// and co (metadata, schema), and returns the result as JSON: the document
// of a unary method, or a JSON array of the messages of a server-streaming
// one. See Plugin.Call for method names and errors.
func (m *Manager) Call(ctx context.Context, name, method string, args []byte, co CallOptions) ([]byte, error) {
	c, err := m.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	streaming := false
	if c.inst.plugin.proto == ProtocolGRPC {
		if s, err := c.inst.plugin.schemaFor(ctx, co, method); err == nil {
			if md, err := s.resolve(name, method); err == nil {
				streaming = md.IsStreamingServer()
			}
		}
	}
	var docs [][]byte
	err = c.Call(ctx, method, args, co, func(doc []byte) error {
		docs = append(docs, append([]byte(nil), doc...))
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !streaming && len(docs) == 1 {
		return docs[0], nil
	}
	return append(append([]byte("["), bytes.Join(docs, []byte(","))...), ']'), nil
}

// CallStream calls method like Call and hands each result document to
// emit as it arrives.
func (m *Manager) CallStream(ctx context.Context, name, method string, args []byte, co CallOptions, emit func(json []byte) error) error {
	c, err := m.Get(ctx, name)
	if err != nil {
		return err
	}
	return c.Call(ctx, method, args, co, emit)
}

// Dispense gets a Client of name (see Get) and dispenses it through the
// host's plugin set (see Client.Dispense):
//
//	raw, err := m.Dispense(ctx, "kv", plugin.PluginSet{"kv": &shared.KVGRPCPlugin{}})
//	kv := raw.(shared.KV)
func (m *Manager) Dispense(ctx context.Context, name string, plugins plugin.PluginSet) (any, error) {
	c, err := m.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	return c.Dispense(plugins)
}

// Status is what a Manager knows of one plugin.
type Status struct {
	Name     string
	Version  string // of the running process; empty when none runs
	Pid      int
	Healthy  bool
	Attached bool // a started plugin (Start) the Manager reattached to
	Failures int  // consecutive failed launches or crashes
	LastErr  error
}

// Status reports every plugin the Manager has been asked for, by name.
func (m *Manager) Status() []Status {
	mps := m.entries()
	out := make([]Status, 0, len(mps))
	for _, mp := range mps {
		mp.mu.Lock()
		s := Status{Name: mp.name, Failures: mp.failures, LastErr: mp.lastErr}
		if inst := mp.cur; inst != nil {
			s.Version, s.Pid, s.Healthy, s.Attached = inst.version, inst.plugin.Pid(), inst.usable(), inst.attached
		}
		mp.mu.Unlock()
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b Status) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Shutdown stops every plugin the Manager launched and waits for them to
// be gone; started plugins it reattached to keep running. Calls in flight
// may finish first, each process for at most DrainTimeout; when ctx ends
// before they have, the remaining processes are stopped at once (their
// calls fail), and Shutdown returns ctx's error once they are gone, a
// bounded wait. After Shutdown the Manager's methods return
// ErrManagerClosed; calling it again waits for the same processes.
func (m *Manager) Shutdown(ctx context.Context) error {
	m.mu.Lock()
	first := !m.closed
	m.closed = true
	mps := m.plugins
	m.mu.Unlock()
	if first {
		for _, mp := range mps {
			mp.mu.Lock()
			if mp.cur != nil {
				m.retire(mp.cur)
				mp.cur = nil
			}
			mp.mu.Unlock()
		}
		// Not m.cancel yet: it kills every process launched (their
		// contexts derive from m.base), calls in flight included.
		m.stopHealth()
	}
	done := make(chan struct{})
	go func() { m.wg.Wait(); close(done) }()
	select {
	case <-done:
		m.cancel()
		return nil
	case <-ctx.Done():
	}
	m.hurryOnce.Do(func() { close(m.hurry) })
	<-done
	m.cancel()
	return ctx.Err()
}

// Close is Shutdown bounded by DrainTimeout.
func (m *Manager) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), m.opts.DrainTimeout)
	defer cancel()
	return m.Shutdown(ctx)
}

// entries is a snapshot of the plugins, so that each can be locked in turn
// without holding m.mu across a probe.
func (m *Manager) entries() []*managed {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Collect(maps.Values(m.plugins))
}

func (m *Manager) entry(name string) (*managed, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrManagerClosed
	}
	mp, ok := m.plugins[name]
	if !ok {
		mp = &managed{name: name}
		m.plugins[name] = mp
	}
	return mp, nil
}

// fileStamp tells whether plugins/<name>/current changed without reading it:
// SetActive renames a new file into place, so its inode changes.
type fileStamp struct {
	ok    bool
	ino   uint64
	mtime time.Time
	size  int64
}

func stampOf(path string) fileStamp {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}
	}
	return fileStamp{ok: true, ino: inode(fi), mtime: fi.ModTime(), size: fi.Size()}
}

// activeVersion returns the active version, re-reading the current file
// only when its stat changed.
func (mp *managed) activeVersion(home store.Paths) (string, error) {
	st := stampOf(home.CurrentFile(mp.name))
	if st.ok && st == mp.stamp && mp.active != "" {
		return mp.active, nil
	}
	v, err := home.Active(mp.name)
	if err != nil {
		return "", err
	}
	if v == "" {
		mp.stamp, mp.active = fileStamp{}, ""
		return "", fmt.Errorf("%s: %w", mp.name, store.ErrNotInstalled)
	}
	mp.stamp, mp.active = st, v
	return v, nil
}

// crashed records that inst died or failed its probe: a plugin that keeps
// dying soon after its start backs off.
func (mp *managed) crashed(inst *instance, o ManagerOptions) {
	if time.Since(inst.started) > 2*o.BackoffMax {
		mp.failures = 0
	}
	mp.failed(fmt.Errorf("plugin %s@%s (pid %d) crashed or failed its health check", inst.name, inst.version, inst.plugin.Pid()), o)
}

// failed records one more failure in a row: the next launch waits for the
// backoff.
func (mp *managed) failed(err error, o ManagerOptions) {
	mp.failures++
	mp.lastErr = err
	mp.nextTry = time.Now().Add(backoff(mp.failures, o))
}

func backoff(failures int, o ManagerOptions) time.Duration {
	d := o.BackoffMin
	for i := 1; i < failures && d < o.BackoffMax; i++ {
		d *= 2
	}
	return min(d, o.BackoffMax)
}

// launch starts the version, retrying with backoff up to Attempts times.
func (m *Manager) launch(ctx context.Context, mp *managed, version string) (*instance, error) {
	r, err := m.home.ReadReceipt(mp.name, version)
	if err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		if wait := time.Until(mp.nextTry); wait > 0 {
			if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
				return nil, &PluginError{Name: mp.name, Op: OpStart, Err: fmt.Errorf("failed %d times, next launch in %s: %w", mp.failures, wait.Round(time.Millisecond), mp.lastErr)}
			}
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return nil, &PluginError{Name: mp.name, Op: OpStart, Err: fmt.Errorf("waiting to relaunch: %w", ctx.Err())}
			}
		}
		inst, err := m.start(ctx, r)
		if err == nil {
			mp.failures, mp.lastErr, mp.nextTry = 0, nil, time.Time{}
			return inst, nil
		}
		var mm *verify.MismatchError
		if errors.As(err, &mm) || ctx.Err() != nil {
			return nil, err // retrying cannot help
		}
		mp.failed(err, m.opts)
		if attempt >= m.opts.Attempts {
			var pe *PluginError
			if errors.As(err, &pe) {
				return nil, &PluginError{Name: pe.Name, Op: pe.Op, Err: fmt.Errorf("%w (%d launches failed)", pe.Err, attempt), Panic: pe.Panic}
			}
			return nil, err
		}
	}
}

// start launches (or, with UseStarted, reattaches to) one process. ctx
// bounds the launch only: the process lives until the Manager stops it.
func (m *Manager) start(ctx context.Context, r *store.Receipt) (*instance, error) {
	opt := m.opts.Launch
	opt.Home = m.home
	inst := &instance{name: r.Name, version: r.Version, started: time.Now()}
	if m.opts.UseStarted {
		p, ok, err := AttachReceipt(ctx, m.home, r, opt)
		if err == nil && ok {
			inst.plugin, inst.attached, inst.cancel = p, true, func() {}
			return inst, nil
		}
	}
	lctx, cancel := context.WithCancel(m.base)
	stop := context.AfterFunc(ctx, cancel)
	p, err := Launch(lctx, SpecFromReceipt(m.home, r), opt)
	if !stop() {
		// ctx ended during the launch and cancelled lctx: the process is
		// being killed.
		if err != nil {
			return nil, err
		}
		_ = p.Close()
		return nil, &PluginError{Name: r.Name, Op: OpStart, Err: fmt.Errorf("launch: %w", ctx.Err())}
	}
	if err != nil {
		cancel()
		return nil, err
	}
	inst.plugin, inst.cancel = p, cancel
	return inst, nil
}

// retire stops inst once the calls in flight on it finish (bounded by
// DrainTimeout), in the background.
func (m *Manager) retire(inst *instance) {
	inst.mu.Lock()
	if inst.retired {
		inst.mu.Unlock()
		return
	}
	inst.retired = true
	inst.idle = make(chan struct{})
	if inst.inflight == 0 {
		close(inst.idle)
	}
	inst.mu.Unlock()
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		t := time.NewTimer(m.opts.DrainTimeout)
		defer t.Stop()
		select {
		case <-inst.idle:
		case <-t.C:
		case <-m.hurry:
		}
		inst.close()
	}()
}

func (inst *instance) acquire() error {
	inst.mu.Lock()
	defer inst.mu.Unlock()
	if inst.closed {
		return &PluginError{Name: inst.name, Op: OpCall, Err: ErrRetired}
	}
	inst.inflight++
	return nil
}

func (inst *instance) release() {
	inst.mu.Lock()
	defer inst.mu.Unlock()
	inst.inflight--
	if inst.inflight == 0 && inst.retired {
		select {
		case <-inst.idle:
		default:
			close(inst.idle)
		}
	}
}

func (inst *instance) close() {
	inst.mu.Lock()
	inst.closed = true
	inst.mu.Unlock()
	inst.dispMu.Lock()
	if inst.rpcConn != nil {
		// Not RPCClient.Close: it would send Control.Quit, which a
		// started plugin we reattached to must not get.
		_ = inst.rpcConn.Close()
	}
	inst.dispMu.Unlock()
	_ = inst.plugin.Close()
	inst.cancel()
}

// usable: the process runs and has not failed a probe or a call.
func (inst *instance) usable() bool {
	return !inst.unhealthy.Load() && !inst.plugin.hasExited()
}

// noteFailure marks the process for relaunch when a call failed because of
// it (crash, unreachable), not because of the caller's deadline.
func (inst *instance) noteFailure(ctx context.Context, err error) {
	var pe *PluginError
	if err == nil || !errors.As(err, &pe) || ctx.Err() != nil || errors.Is(err, ErrRetired) {
		return
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return
	}
	inst.unhealthy.Store(true)
}

func (m *Manager) healthLoop() {
	defer m.wg.Done()
	t := time.NewTicker(m.opts.HealthInterval)
	defer t.Stop()
	for {
		select {
		case <-m.health.Done():
			return
		case <-t.C:
			m.probe()
		}
	}
}

// probe pings every running plugin; one that fails is retired at once and
// relaunched on next use.
func (m *Manager) probe() {
	for _, mp := range m.entries() {
		mp.mu.Lock()
		inst := mp.cur
		mp.mu.Unlock()
		if inst == nil {
			continue
		}
		ctx, cancel := context.WithTimeout(m.health, m.opts.HealthTimeout)
		err := (&Client{inst}).Ping(ctx)
		cancel()
		if err == nil && inst.usable() {
			continue
		}
		if m.health.Err() != nil {
			return
		}
		inst.unhealthy.Store(true)
		mp.mu.Lock()
		if mp.cur == inst {
			mp.cur = nil
			mp.crashed(inst, m.opts)
			if err != nil {
				mp.lastErr = err
			}
			m.retire(inst)
		}
		mp.mu.Unlock()
	}
}
