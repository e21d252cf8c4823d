package runtime

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc/codes"

	"github.com/plugctl/plugctl/internal/keepwire"
	"github.com/plugctl/plugctl/store"
)

// A keeper holds a session with a started plugin for the commands that call
// it, each of which is a short-lived process: without one, every call pays
// for a new session, and go-plugin's net/rpc server spends about 1.2 ms on
// each (a new rpc.Server, gob types compiled for the control and the
// dispensed streams, its broker's accept), gRPC a new HTTP/2 connection and
// the schema. Keep runs one; StartedPlugin.CallKeeper calls through it in
// one round trip on a unix socket in run/ (the protocol is
// internal/keepwire's). It is an optimisation only: with no keeper, or a
// dead one, callers attach to the plugin themselves. The keeper checks each
// call as a caller attaching would (the plugin still runs, and runs the
// binary the receipt names) and declines one that fails, so that a caller
// is never served by a stale plugin whatever it checked itself.

// keeperSocket is where the keeper of the started plugin st of home
// listens: run/NAME@VERSION.sock, or, when that path is too long for a unix
// socket address, k<pid> in the private directory of the plugin's own
// socket (unix) or the one Start made for it (TCP); "" when there is none.
func keeperSocket(home store.Paths, st *StartedPlugin) string {
	if st.Address == "" || (st.Network != "unix" && st.Network != "tcp") {
		return ""
	}
	if p := home.KeeperSocket(st.Name, st.Version); p != "" {
		return p
	}
	dir := st.SocketDir
	if st.Network == "unix" {
		dir = filepath.Dir(st.Address)
	}
	if dir == "" {
		return ""
	}
	return filepath.Join(dir, fmt.Sprintf("k%d", st.Pid))
}

// keptSentinels are the errors a call's error may wrap that callers test
// with errors.Is.
var keptSentinels = map[string]error{
	"method-not-found": ErrMethodNotFound,
	"ambiguous-method": ErrAmbiguousMethod,
	"gob-type":         ErrGobType,
	"no-reflection":    ErrNoReflection,
	"unsupported":      ErrUnsupported,
	"deadline":         context.DeadlineExceeded,
	"canceled":         context.Canceled,
	"broker-closed":    ErrBrokerClosed,
	"not-installed":    store.ErrNotInstalled,
	"invalid-name":     store.ErrInvalidName,
}

func encodeKeptError(err error) *keepwire.Error {
	ke := &keepwire.Error{Kind: "other", Message: err.Error()}
	for name, s := range keptSentinels {
		if errors.Is(err, s) {
			ke.Is = append(ke.Is, name)
		}
	}
	var pe *PluginError
	var me *MethodError
	var ae *ArgError
	var de *DiagnosticsError
	switch {
	case errors.As(err, &de):
		ke.Kind, ke.Method, ke.Inner, ke.Diagnostics = "diagnostics", de.Method, de.Summary, de.Diagnostics
	case errors.As(err, &me):
		ke.Kind, ke.Method, ke.Code, ke.Inner = "method", me.Method, uint32(me.Code), me.Message
	case errors.As(err, &ae) && ae.Err != nil:
		ke.Kind, ke.Method, ke.Type, ke.Inner = "arg", ae.Method, ae.Type, ae.Err.Error()
	case errors.As(err, &pe) && pe.Err != nil:
		ke.Kind, ke.Name, ke.Op, ke.Panic, ke.Inner = "plugin", pe.Name, pe.Op, pe.Panic, pe.Err.Error()
	}
	return ke
}

// keptErr is an error that came through a keeper: its text, and the
// sentinels the original wrapped.
type keptErr struct {
	msg string
	is  []error
}

func (e *keptErr) Error() string { return e.msg }

func (e *keptErr) Is(target error) bool {
	for _, s := range e.is {
		if s == target {
			return true
		}
	}
	return false
}

func decodeKeptError(ke *keepwire.Error) error {
	var is []error
	for _, name := range ke.Is {
		if s, ok := keptSentinels[name]; ok {
			is = append(is, s)
		}
	}
	switch ke.Kind {
	case "method":
		return &MethodError{Method: ke.Method, Code: codes.Code(ke.Code), Message: ke.Inner}
	case "diagnostics":
		return &DiagnosticsError{Method: ke.Method, Summary: ke.Inner, Diagnostics: ke.Diagnostics}
	case "arg":
		return &ArgError{Method: ke.Method, Type: ke.Type, Err: &keptErr{ke.Inner, is}}
	case "plugin":
		return &PluginError{Name: ke.Name, Op: ke.Op, Panic: ke.Panic, Err: &keptErr{ke.Inner, is}}
	}
	return &keptErr{ke.Message, is}
}

// keptError turns the error of a call through the keeper of plugin name
// (keepwire.Call's) into what Plugin.Call would have returned: the
// keeper's *keepwire.Error into the error it stands for (*PluginError,
// *MethodError, *ArgError, with the same text and sentinels), a connection
// lost after the request into a *PluginError. Other errors are returned as
// they are.
func keptError(name string, err error) error {
	var ke *keepwire.Error
	var lost *keepwire.LostError
	switch {
	case errors.As(err, &ke):
		return decodeKeptError(ke)
	case errors.As(err, &lost):
		return &PluginError{Name: name, Op: OpCall, Err: fmt.Errorf("through its keeper: %w", lost.Err)}
	}
	return err
}

// Keep attaches to the started plugin that r names and serves calls to it
// on its keeper's socket (see StartedPlugin.Keeper) until the plugin's
// process is gone or ctx ends: this is what a keeper process runs (plugctl
// start runs one beside each plugin it starts). It returns ErrNotStarted
// when the plugin does not run, or runs another binary than r's.
func Keep(ctx context.Context, home store.Paths, r *store.Receipt, opt Options) error {
	st, err := ReadStarted(home, r.Name, r.Version)
	if err != nil {
		return err
	}
	sock := keeperSocket(home, st)
	if sock == "" {
		return fmt.Errorf("plugin %s@%s listens on %s: %w", r.Name, r.Version, st.Network, ErrUnsupported)
	}
	p, attached, err := attachStarted(ctx, home, st, r, opt, true)
	if err != nil {
		return err
	}
	if !attached {
		return fmt.Errorf("%s@%s: %w", r.Name, r.Version, ErrNotStarted)
	}
	defer p.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Logged before the socket exists: whoever sees it can read this line.
	log, _ := pluginOutput(r.Name, opt)
	log.Info("keeper serving calls", "socket", sock, "pid", st.Pid)
	l, err := listenKeeper(ctx, home, st, sock)
	if err != nil || l == nil {
		return err
	}
	// On the way out, remove the socket only if it is still this one.
	mine, _ := os.Stat(sock)
	defer func() {
		if fi, err := os.Stat(sock); err == nil && mine != nil && os.SameFile(fi, mine) {
			os.Remove(sock)
		}
	}()
	go func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				l.Close()
				return
			case <-t.C:
				if !st.Alive() {
					cancel()
				}
			}
		}
	}()
	k := &keeper{home: home, st: st, plugin: p, requestTimeout: keptRequestTimeout, log: log}
	for {
		c, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("keeper of %s@%s: %w", r.Name, r.Version, err)
		}
		go k.serve(ctx, c)
	}
}

// listenKeeper binds the keeper's socket sock, or returns a nil listener
// when another keeper of st already answers there (two starts at once each
// ran one: one is enough). Under the version's run lock, so that two
// keepers starting at once cannot each find no keeper, and the second
// remove the socket the first just bound; the socket is bound under a
// temporary name, made private, and renamed into place, so that it never
// answers with another mode.
func listenKeeper(ctx context.Context, home store.Paths, st *StartedPlugin, sock string) (net.Listener, error) {
	unlock, err := lockRunCtx(ctx, home, st.Name, st.Version)
	if err != nil {
		return nil, fmt.Errorf("keeper of %s@%s: %w", st.Name, st.Version, err)
	}
	defer unlock()
	if c, err := keepwire.Dial(sock); err == nil {
		c.Close()
		return nil, nil
	}
	if keeperBindHook != nil {
		keeperBindHook()
	}
	tmp := fmt.Sprintf("%s.%d", sock, os.Getpid())
	if !socketFits(tmp, "") {
		tmp = filepath.Join(filepath.Dir(sock), fmt.Sprintf("k%d.tmp", os.Getpid()))
	}
	_ = os.Remove(tmp)
	l, err := net.Listen("unix", tmp)
	if err != nil {
		return nil, fmt.Errorf("keeper of %s@%s: %w", st.Name, st.Version, err)
	}
	// Close must not remove the socket by its old name once renamed.
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	err = os.Chmod(tmp, 0o600)
	if err == nil {
		// Replaces a dead keeper's socket in one step.
		err = os.Rename(tmp, sock)
	}
	if err != nil {
		l.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("keeper of %s@%s: %w", st.Name, st.Version, err)
	}
	return l, nil
}

// keeperBindHook, when set by a test, runs between the check that no keeper
// answers and the bind: where another keeper starting at once must not get
// in.
var keeperBindHook func()

// keptRequestTimeout bounds the wait for a request's line: even the
// largest one (keepwire.MaxRequest) takes well under a second on a unix
// socket.
var keptRequestTimeout = 10 * time.Second

type keeper struct {
	home           store.Paths
	st             *StartedPlugin
	plugin         *Plugin
	requestTimeout time.Duration
	log            hclog.Logger
}

// decline says why the keeper must not serve a call to target, or "": the
// checks a caller makes before attaching to a started plugin (its process
// still runs, and runs the binary that the version's receipt names), made
// here at every call: the plugin may have died or been reinstalled since the
// caller read its record.
func (k *keeper) decline(target string) string {
	st := k.st
	switch {
	case target != "" && target != st.Name+"@"+st.Version:
		return "this keeper serves " + st.Name + "@" + st.Version
	case !st.Alive():
		return "the plugin has exited"
	}
	r, err := k.home.ReadReceipt(st.Name, st.Version)
	if err != nil {
		return err.Error()
	}
	if !strings.EqualFold(st.SHA256, r.BinSHA256) {
		return "the plugin runs another binary than the installed one"
	}
	return ""
}

func (k *keeper) serve(ctx context.Context, c net.Conn) {
	defer c.Close()
	// A caller that connects and sends nothing is dropped rather than held
	// (with a goroutine) for the keeper's life.
	_ = c.SetReadDeadline(time.Now().Add(k.requestTimeout))
	br := bufio.NewReader(c)
	line, err := readKeptLine(br)
	if err != nil {
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	w := bufio.NewWriter(c)
	enc := keepwire.NewReplyEncoder(w)
	defer w.Flush()
	var req keepwire.Request
	if err := json.Unmarshal(line, &req); err != nil {
		_ = enc.Encode(keepwire.Reply{Declined: "unreadable request: " + err.Error()})
		return
	}
	if why := k.decline(req.Target); why != "" {
		k.log.Debug("call declined", "method", req.Method, "reason", why)
		_ = enc.Encode(keepwire.Reply{Declined: why})
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if req.Deadline > 0 {
		var dcancel context.CancelFunc
		ctx, dcancel = context.WithDeadline(ctx, time.Unix(0, req.Deadline))
		defer dcancel()
	}
	// The caller hangs up (Ctrl-C, its own timeout): the call is
	// cancelled. A request's message stream is read first.
	watchHangUp := func() {
		go func() {
			_, _ = br.ReadByte()
			cancel()
		}()
	}
	co := CallOptions{Metadata: req.Metadata, Decode: req.Decode}
	if req.Stream {
		co.Requests = keptRequests(br, watchHangUp)
	} else {
		watchHangUp()
	}
	var args []byte
	if req.Args != nil {
		args = *req.Args
	}
	err = k.plugin.Call(ctx, req.Method, args, co, func(doc []byte) error {
		if err := enc.Encode(keepwire.Reply{Doc: doc}); err != nil {
			return err
		}
		return w.Flush()
	})
	k.log.Debug("call", "method", req.Method, "error", err)
	if err != nil {
		_ = enc.Encode(keepwire.Reply{Err: encodeKeptError(err)})
		return
	}
	// The schema the call used is cached: this costs no round trip.
	kind, _ := k.plugin.MethodKind(ctx, req.Method, CallOptions{})
	_ = enc.Encode(keepwire.Reply{End: true, Kind: string(kind)})
}

// readKeptLine reads one line of a caller, at most keepwire.MaxRequest
// long.
func readKeptLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > keepwire.MaxRequest {
			return nil, fmt.Errorf("a line longer than %d bytes", keepwire.MaxRequest)
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return line, err
		}
	}
}

// keptRequests supplies the request messages a caller streams after its
// request (keepwire.Message lines), then watches for the caller hanging up.
func keptRequests(br *bufio.Reader, then func()) Requests {
	return func(send func([]byte) error) error {
		for {
			line, err := readKeptLine(br)
			if err != nil {
				return fmt.Errorf("the caller left before its last request message: %w", err)
			}
			var m keepwire.Message
			if err := json.Unmarshal(line, &m); err != nil {
				return fmt.Errorf("unreadable request message: %w", err)
			}
			if m.End {
				then()
				return nil
			}
			if err := send(m.Doc); err != nil {
				return err
			}
		}
	}
}

// CallKeeper calls method on s, a started plugin of home, through its
// keeper, as Plugin.Call would (co's schema options aside: callers that
// give ProtoFiles or Protoset attach themselves). used is false when s has
// no keeper that answers, or the keeper declines the call (s has exited, or
// runs another binary than r, its receipt), and nothing ran: the caller
// attaches or launches instead. A keeper socket, run/ or receipt that
// someone else could have changed is refused before anything is dialled
// (used, with an *UnsafePathError, as launching refuses it). Once the request is sent the call is not
// retried (it may have run): a keeper lost meanwhile is a *PluginError.
func (s *StartedPlugin) CallKeeper(ctx context.Context, home store.Paths, r *store.Receipt, method string, args []byte, co CallOptions, emit func(json []byte) error) (used bool, err error) {
	used, _, err = s.CallKeeperKind(ctx, home, r, method, args, co, emit)
	return used, err
}

// CallKeeperKind is CallKeeper that also says, after a call that
// succeeded, how the method exchanges messages (see Plugin.MethodKind), so
// that a caller can shape the results without asking for the schema.
func (s *StartedPlugin) CallKeeperKind(ctx context.Context, home store.Paths, r *store.Receipt, method string, args []byte, co CallOptions, emit func(json []byte) error) (used bool, kind MethodKind, err error) {
	sock := keeperSocket(home, s)
	if sock == "" || !strings.EqualFold(s.SHA256, r.BinSHA256) || !s.Alive() || len(args) > keepwire.MaxRequest/2 {
		// (Arguments too large for one keeper request go by attaching.)
		return false, "", nil
	}
	// What a call through the keeper trusts is held to launching's rule:
	// run/ and the socket (someone else's socket would be served by
	// someone else's process), and the receipt that named the binary.
	if err := checkSocket(s.Name, home, sock); err != nil {
		return true, "", err
	}
	if err := checkTree(s.Name, home.Home, home.ReceiptFile(r.Name, r.Version), 0, false); err != nil {
		return true, "", err
	}
	c, err := keepwire.Dial(sock)
	if err != nil {
		return false, "", nil
	}
	defer c.Close()
	req := keepwire.Request{Target: s.Name + "@" + s.Version, Method: method, Metadata: co.Metadata, Decode: co.Decode}
	if len(bytes.TrimSpace(args)) > 0 {
		raw := json.RawMessage(args)
		req.Args = &raw
	}
	var requests func(func([]byte) error) error
	if co.Requests != nil && req.Args == nil {
		requests = co.Requests
	}
	end, err := keepwire.CallStream(ctx, c, req, requests, emit)
	var declined *keepwire.DeclinedError
	if errors.As(err, &declined) {
		return false, "", nil
	}
	return true, MethodKind(end.Kind), keptError(s.Name, err)
}

// waitKeeperGone waits up to d until the keeper of st, whose plugin is
// gone, no longer answers (it checks on its plugin every 100 ms; its
// listener's socket file is removed before it stops answering).
func waitKeeperGone(home store.Paths, st *StartedPlugin, d time.Duration) {
	sock := keeperSocket(home, st)
	if sock == "" {
		return
	}
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		c, err := keepwire.Dial(sock)
		if err != nil {
			return
		}
		c.Close()
		time.Sleep(10 * time.Millisecond)
	}
}

// Keeper is the socket of s's keeper when one answers there, else "" (none
// runs: calls attach to the plugin themselves).
func (s *StartedPlugin) Keeper(home store.Paths) string {
	sock := keeperSocket(home, s)
	if sock == "" {
		return ""
	}
	c, err := keepwire.Dial(sock)
	if err != nil {
		return ""
	}
	c.Close()
	return sock
}
