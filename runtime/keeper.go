package runtime

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/plugctl/plugctl/store"
)

// A keeper holds a session with a started plugin for the commands that call
// it, each of which is a short-lived process: without one, every call pays
// for a new session, and go-plugin's net/rpc server spends about 1.2 ms on
// each (a new rpc.Server, gob types compiled for the control and the
// dispensed streams, its broker's accept), gRPC a new HTTP/2 connection and
// the schema. Keep runs one; CallKept calls through it in one round trip on
// a unix socket beside the plugin's own. It is an optimisation only: with no
// keeper, or a dead one, callers attach to the plugin themselves.
//
// The protocol, one request per connection: the caller writes a keptRequest
// as one line of JSON; the keeper answers with one keptReply per line, a
// document per result, then one with End or Err. The caller hanging up
// cancels the call.

// KeeperSocket is where the keeper of the started plugin st listens: k<pid>
// beside the plugin's own socket (in run/, mode 0700), or "" for a plugin
// that listens on TCP.
func KeeperSocket(st *StartedPlugin) string {
	if st.Network != "unix" || st.Address == "" {
		return ""
	}
	return filepath.Join(filepath.Dir(st.Address), fmt.Sprintf("k%d", st.Pid))
}

type keptRequest struct {
	Method   string           `json:"method"`
	Args     *json.RawMessage `json:"args,omitempty"` // absent: no argument
	Metadata []string         `json:"metadata,omitempty"`
	Deadline int64            `json:"deadline,omitempty"` // Unix nanoseconds; 0: none
}

type keptReply struct {
	Doc json.RawMessage `json:"doc,omitempty"`
	Err *keptError      `json:"error,omitempty"`
	End bool            `json:"end,omitempty"`
}

// keptError carries an error of Plugin.Call across the keeper's socket with
// what the CLI maps to exit codes and hints: its type and fields, the
// sentinels it wraps, and its text.
type keptError struct {
	Kind    string   `json:"kind"` // plugin, method, arg or other
	Message string   `json:"message"`
	Name    string   `json:"name,omitempty"`
	Op      string   `json:"op,omitempty"`
	Panic   string   `json:"panic,omitempty"`
	Method  string   `json:"method,omitempty"`
	Type    string   `json:"type,omitempty"`
	Code    uint32   `json:"code,omitempty"`
	Inner   string   `json:"inner,omitempty"` // the wrapped error's text
	Is      []string `json:"is,omitempty"`
}

// keptSentinels are the errors a call's error may wrap that callers test
// with errors.Is.
var keptSentinels = map[string]error{
	"method-not-found": ErrMethodNotFound,
	"ambiguous-method": ErrAmbiguousMethod,
	"no-reflection":    ErrNoReflection,
	"unsupported":      ErrUnsupported,
	"deadline":         context.DeadlineExceeded,
	"canceled":         context.Canceled,
}

func encodeKeptError(err error) *keptError {
	ke := &keptError{Kind: "other", Message: err.Error()}
	for name, s := range keptSentinels {
		if errors.Is(err, s) {
			ke.Is = append(ke.Is, name)
		}
	}
	var pe *PluginError
	var me *MethodError
	var ae *ArgError
	switch {
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

func (ke *keptError) decode() error {
	var is []error
	for _, name := range ke.Is {
		if s, ok := keptSentinels[name]; ok {
			is = append(is, s)
		}
	}
	switch ke.Kind {
	case "method":
		return &MethodError{Method: ke.Method, Code: codes.Code(ke.Code), Message: ke.Inner}
	case "arg":
		return &ArgError{Method: ke.Method, Type: ke.Type, Err: &keptErr{ke.Inner, is}}
	case "plugin":
		return &PluginError{Name: ke.Name, Op: ke.Op, Panic: ke.Panic, Err: &keptErr{ke.Inner, is}}
	}
	return &keptErr{ke.Message, is}
}

// maxKeptRequest bounds one request (its arguments are a JSON document read
// from the command line or stdin).
const maxKeptRequest = 64 << 20

// Keep attaches to the started plugin that r names and serves calls to it
// on KeeperSocket until the plugin's process is gone or ctx ends. It
// returns ErrNotStarted when the plugin does not run, or runs another
// binary than r's.
func Keep(ctx context.Context, home store.Paths, r *store.Receipt, opt Options) error {
	st, err := ReadStarted(home, r.Name, r.Version)
	if err != nil {
		return err
	}
	sock := KeeperSocket(st)
	if sock == "" {
		return fmt.Errorf("plugin %s@%s listens on %s: %w", r.Name, r.Version, st.Network, ErrUnsupported)
	}
	p, attached, err := attachStarted(ctx, home, st, r, opt)
	if err != nil {
		return err
	}
	if !attached {
		return fmt.Errorf("%s@%s: %w", r.Name, r.Version, ErrNotStarted)
	}
	defer p.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if c, err := net.DialTimeout("unix", sock, 100*time.Millisecond); err == nil {
		// Two starts at once each ran a keeper: one is enough.
		c.Close()
		return nil
	}
	_ = os.Remove(sock) // a dead keeper's
	l, err := net.Listen("unix", sock)
	if err != nil {
		return fmt.Errorf("keeper of %s@%s: %w", r.Name, r.Version, err)
	}
	// On the way out, remove the socket only if it is still this one.
	mine, _ := os.Stat(sock)
	defer func() {
		if fi, err := os.Stat(sock); err == nil && mine != nil && os.SameFile(fi, mine) {
			os.Remove(sock)
		}
	}()
	if err := os.Chmod(sock, 0o600); err != nil {
		l.Close()
		return err
	}
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
	for {
		c, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("keeper of %s@%s: %w", r.Name, r.Version, err)
		}
		go serveKept(ctx, p, c)
	}
}

func serveKept(ctx context.Context, p *Plugin, c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(io.LimitReader(c, maxKeptRequest))
	line, err := br.ReadBytes('\n')
	if err != nil {
		return
	}
	var req keptRequest
	if err := json.Unmarshal(line, &req); err != nil {
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if req.Deadline > 0 {
		var dcancel context.CancelFunc
		ctx, dcancel = context.WithDeadline(ctx, time.Unix(0, req.Deadline))
		defer dcancel()
	}
	// The caller hangs up (Ctrl-C, its own timeout): the call is cancelled.
	go func() {
		_, _ = br.ReadByte()
		cancel()
	}()
	w := bufio.NewWriter(c)
	enc := json.NewEncoder(w)
	var args []byte
	if req.Args != nil {
		args = *req.Args
	}
	err = p.Call(ctx, req.Method, args, CallOptions{Metadata: req.Metadata}, func(doc []byte) error {
		if err := enc.Encode(keptReply{Doc: doc}); err != nil {
			return err
		}
		return w.Flush()
	})
	if err != nil {
		_ = enc.Encode(keptReply{Err: encodeKeptError(err)})
	} else {
		_ = enc.Encode(keptReply{End: true})
	}
	_ = w.Flush()
}

// CallKept calls method on the started plugin st through its keeper, as
// Plugin.Call would (co's schema options aside: callers that give
// ProtoFiles or Protoset attach themselves). used is false when st has no
// keeper that answers, or st runs another binary than r, and nothing was
// sent: the caller attaches or launches instead. Once the request is sent
// the call is not retried (it may have run): a keeper lost meanwhile is a
// *PluginError.
func CallKept(ctx context.Context, st *StartedPlugin, r *store.Receipt, method string, args []byte, co CallOptions, emit func(json []byte) error) (used bool, err error) {
	sock := KeeperSocket(st)
	if sock == "" || !strings.EqualFold(st.SHA256, r.BinSHA256) || !st.Alive() || len(args) > maxKeptRequest/2 {
		// (Arguments too large for one keeper request go by attaching.)
		return false, nil
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", sock)
	if err != nil {
		return false, nil
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	req := keptRequest{Method: method, Metadata: co.Metadata}
	if len(strings.TrimSpace(string(args))) > 0 {
		raw := json.RawMessage(args)
		req.Args = &raw
	}
	if dl, ok := ctx.Deadline(); ok {
		req.Deadline = dl.UnixNano()
	}
	b, err := json.Marshal(req)
	if err != nil {
		return false, &ArgError{Err: err}
	}
	if _, err := c.Write(append(b, '\n')); err != nil {
		return false, nil // nothing was received: the caller may go on
	}
	lost := func(err error) error {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return &PluginError{Name: st.Name, Op: OpCall, Err: fmt.Errorf("through its keeper: %w", err)}
	}
	dec := json.NewDecoder(bufio.NewReader(c))
	for {
		var rep keptReply
		if err := dec.Decode(&rep); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return true, lost(err)
		}
		switch {
		case rep.Err != nil:
			return true, rep.Err.decode()
		case rep.End:
			return true, nil
		case rep.Doc != nil:
			if err := emit(rep.Doc); err != nil {
				return true, err
			}
		}
	}
}
