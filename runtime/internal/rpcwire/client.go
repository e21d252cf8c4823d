package rpcwire

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/yamux"

	"github.com/plugctl/plugctl/runtime/internal/gobwire"
)

// Options configures a session.
type Options struct {
	// Stdout and Stderr receive what the plugin writes to its os.Stdout
	// and os.Stderr, which go-plugin's net/rpc server syncs over two
	// streams of the session. Nil discards. A writer that blocks stalls
	// the plugin's own writes once yamux's window (256 KiB) fills.
	Stdout, Stderr io.Writer
}

// Client is a net/rpc session with one go-plugin plugin.
type Client struct {
	session *yamux.Session
	control *stream

	mu      sync.Mutex // guards plugins and serializes dispensing
	plugins map[string]*stream

	outputs [2]*yamux.Stream // the plugin's synced stdout and stderr
	drain   sync.WaitGroup   // the goroutines copying outputs

	closeOnce sync.Once
	closed    atomic.Bool // by Close or Quit, not by a lost connection
}

// New starts a session on conn (already dialed, TLS already applied by the
// caller if the plugin uses it). Output the plugin syncs is discarded.
func New(conn net.Conn) (*Client, error) { return NewWithOptions(conn, Options{}) }

// NewWithOptions starts a session on conn, as go-plugin's RPCClient does:
// a yamux client session, then the control, stdout and stderr streams in
// the order the plugin's RPCServer accepts them.
func NewWithOptions(conn net.Conn, opts Options) (*Client, error) {
	cfg := yamux.DefaultConfig()
	cfg.LogOutput = io.Discard // failures surface as errors from calls
	session, err := yamux.Client(conn, cfg)
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	var streams [3]*yamux.Stream
	for i := range streams {
		if streams[i], err = session.OpenStream(); err != nil {
			_ = session.Close()
			return nil, fmt.Errorf("opening session streams: %w", err)
		}
	}
	c := &Client{session: session, control: newStream(streams[0]), plugins: map[string]*stream{}}
	c.outputs = [2]*yamux.Stream{streams[1], streams[2]}
	for i, w := range []io.Writer{opts.Stdout, opts.Stderr} {
		if w == nil {
			w = io.Discard
		}
		c.drain.Add(1)
		go func(src io.Reader) {
			defer c.drain.Done()
			_, _ = io.Copy(w, src)
		}(streams[i+1])
	}
	// A plugin may dial the host through go-plugin's MuxBroker (callbacks
	// into the host); nothing here serves those, so refuse them.
	go func() {
		for {
			s, err := session.AcceptStream()
			if err != nil {
				return
			}
			_ = s.Close()
		}
	}()
	return c, nil
}

// Call dispenses `dispense` (cached per Client) and calls Plugin.<method>
// with args (JSON; empty or "null" means a nil interface value). Returns
// the reply as JSON. Calls on one dispensed plugin take turns; ctx bounds
// the wait for a turn too.
func (c *Client) Call(ctx context.Context, dispense, method string, args []byte) ([]byte, error) {
	full := "Plugin." + method
	if c.closed.Load() {
		return nil, ErrClosed
	}
	arg, err := gobwire.FromJSON(args)
	if err != nil {
		return nil, &ArgError{Method: full, Message: err.Error(), Err: err}
	}
	s, err := c.dispensed(ctx, dispense)
	if err != nil {
		return nil, err
	}
	reply, err := s.call(ctx, full, arg)
	if err != nil {
		if s.isBroken() {
			c.forget(dispense, s)
		}
		return nil, err
	}
	return gobwire.ToJSON(reply)
}

// Ping calls Control.Ping (health check).
func (c *Client) Ping(ctx context.Context) error {
	if c.closed.Load() {
		return ErrClosed
	}
	_, err := c.controlCall(ctx, "Control.Ping", gobwire.BoolValue(true))
	return err
}

// Close drops the session WITHOUT sending Control.Quit (a warm plugin we
// reattached to must survive us).
func (c *Client) Close() error {
	c.closed.Store(true)
	return c.closeSession()
}

// closeSession ends the output drains, then the session. The drains go
// first: yamux's Session.Close closes its shutdown channel, then waits for
// its receive loop to end before it closes the streams, and meanwhile a
// Stream.Read blocked on an empty stream wakes on that closed channel and
// retries at once, spinning on a core (yamux v0.1.2). A read deadline in
// the past wakes a blocked Read for good (ErrTimeout) and still lets it
// return what the stream already holds, so output the plugin synced
// before the close is written.
func (c *Client) closeSession() error {
	var err error
	c.closeOnce.Do(func() {
		now := time.Now()
		for _, s := range c.outputs {
			_ = s.SetReadDeadline(now)
		}
		c.drain.Wait()
		err = c.session.Close()
	})
	return err
}

// Quit sends Control.Quit (graceful stop) then closes. A connection that
// drops once Quit is sent counts as success: the plugin went away as asked.
func (c *Client) Quit(ctx context.Context) error {
	if c.closed.Load() {
		return ErrClosed
	}
	_, err := c.controlCall(ctx, "Control.Quit", gobwire.BoolValue(true))
	if errors.Is(err, ErrConnLost) {
		err = nil
	}
	if cerr := c.Close(); err == nil && cerr != nil && !errors.Is(cerr, net.ErrClosed) {
		err = cerr
	}
	return err
}

func (c *Client) controlCall(ctx context.Context, method string, arg gobwire.Value) (gobwire.Value, error) {
	v, err := c.control.call(ctx, method, arg)
	if err != nil && c.control.isBroken() {
		_ = c.closeSession() // the control stream is the session's lifeline
	}
	return v, err
}

func (c *Client) dispensed(ctx context.Context, name string) (*stream, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.plugins[name]; ok {
		return s, nil
	}
	reply, err := c.controlCall(ctx, "Dispenser.Dispense", gobwire.StringValue(name))
	if err != nil {
		var me *MethodError
		if errors.As(err, &me) && strings.HasPrefix(me.Message, "unknown plugin type") {
			return nil, &wrapped{ErrUnknownPlugin, me.Message}
		}
		return nil, fmt.Errorf("dispensing %q: %w", name, err)
	}
	if reply.Type == nil || reply.Type.Kind != gobwire.Uint || reply.Uint > 1<<32-1 {
		return nil, fmt.Errorf("dispensing %q: unexpected reply", name)
	}
	conn, err := c.dialBroker(ctx, uint32(reply.Uint))
	if err != nil {
		return nil, fmt.Errorf("dispensing %q: %w", name, err)
	}
	s := newStream(conn)
	c.plugins[name] = s
	return s, nil
}

// dialBroker does what go-plugin's MuxBroker.Dial does: open a stream,
// send the id (uint32, little endian) and wait for the plugin to echo it.
func (c *Client) dialBroker(ctx context.Context, id uint32) (*yamux.Stream, error) {
	s, err := c.session.OpenStream()
	if err != nil {
		return nil, connLost(err)
	}
	stop := context.AfterFunc(ctx, func() { _ = s.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	var ack uint32
	err = binary.Write(s, binary.LittleEndian, id)
	if err == nil {
		err = binary.Read(s, binary.LittleEndian, &ack)
	}
	if err == nil && ack != id {
		err = fmt.Errorf("bad ack: %d (expected %d)", ack, id)
	}
	if err != nil {
		_ = s.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, connLost(err)
	}
	_ = s.SetDeadline(time.Time{})
	return s, nil
}

func (c *Client) forget(name string, s *stream) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.plugins[name] == s {
		delete(c.plugins, name)
	}
	_ = s.conn.Close()
}

// stream is one net/rpc connection (the control stream or a dispensed
// plugin), gob-coded by gobwire. Calls on it take turns.
type stream struct {
	turn chan struct{} // held for a whole call; a channel so waiting honours ctx
	conn *yamux.Stream
	enc  *gobwire.Encoder
	wbuf bytes.Buffer
	dec  *gobwire.Decoder
	seq  uint64

	mu     sync.Mutex
	broken error
}

func newStream(conn *yamux.Stream) *stream {
	s := &stream{turn: make(chan struct{}, 1), conn: conn, dec: gobwire.NewDecoder(conn)}
	s.enc = gobwire.NewEncoder(&s.wbuf)
	return s
}

func (s *stream) isBroken() bool { return s.brokenErr() != nil }

func (s *stream) brokenErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.broken
}

func (s *stream) setBroken(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.broken == nil {
		s.broken = err
	}
}

var requestType = &gobwire.Type{Kind: gobwire.Struct, Name: "Request", Fields: []gobwire.Field{
	{Name: "ServiceMethod", Type: gobwire.StringType},
	{Name: "Seq", Type: gobwire.UintType},
}}

// call sends one net/rpc request (header rpc.Request{ServiceMethod, Seq},
// then the argument) and reads the response (rpc.Response{ServiceMethod,
// Seq, Error}, then the reply, or an empty struct after an error).
func (s *stream) call(ctx context.Context, method string, arg gobwire.Value) (gobwire.Value, error) {
	select {
	case s.turn <- struct{}{}:
	case <-ctx.Done():
		return gobwire.Value{}, fmt.Errorf("%s: %w", method, ctx.Err())
	}
	defer func() { <-s.turn }()
	if err := s.brokenErr(); err != nil {
		return gobwire.Value{}, fmt.Errorf("%s: %w", method, err)
	}
	if err := ctx.Err(); err != nil {
		return gobwire.Value{}, fmt.Errorf("%s: %w", method, err)
	}
	// Encode the body first: if it fails, nothing was sent and the
	// encoder has forgotten the types it defined.
	s.wbuf.Reset()
	if err := s.enc.Encode(arg); err != nil {
		return gobwire.Value{}, &ArgError{Method: method, Given: arg.Type.String(), Message: err.Error(), Err: err}
	}
	body := bytes.Clone(s.wbuf.Bytes())
	s.wbuf.Reset()
	s.seq++
	header := gobwire.Value{Type: requestType, Elems: []gobwire.Value{gobwire.StringValue(method), gobwire.UintValue(s.seq)}}
	if err := s.enc.Encode(header); err != nil {
		s.setBroken(err)
		return gobwire.Value{}, err
	}
	s.wbuf.Write(body)

	// A deadline or cancellation unblocks the stream; the stream is then
	// out of step with the plugin and is dropped.
	stop := context.AfterFunc(ctx, func() { _ = s.conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	fail := func(err error) (gobwire.Value, error) {
		if ctx.Err() != nil {
			err = ctx.Err()
		} else if !errors.Is(err, gobwire.ErrCorrupt) {
			err = connLost(err)
		}
		s.setBroken(err)
		_ = s.conn.Close()
		return gobwire.Value{}, fmt.Errorf("%s: %w", method, err)
	}
	if _, err := s.conn.Write(s.wbuf.Bytes()); err != nil {
		return fail(err)
	}
	resp, err := s.dec.Decode()
	if err != nil {
		return fail(err)
	}
	errText, _ := resp.Field("Error")
	seq, _ := resp.Field("Seq")
	if seq.Uint != s.seq {
		return fail(fmt.Errorf("%w: response for call %d, expected %d", gobwire.ErrCorrupt, seq.Uint, s.seq))
	}
	reply, err := s.dec.Decode()
	if err != nil {
		return fail(err)
	}
	if errText.Str != "" {
		return gobwire.Value{}, classify(method, errText.Str, arg.Type.String())
	}
	return reply, nil
}

// connLost wraps a transport error; a plain end of stream becomes
// io.ErrUnexpectedEOF, since a reply was due.
func connLost(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, yamux.ErrStreamClosed) || errors.Is(err, yamux.ErrSessionShutdown) ||
		errors.Is(err, yamux.ErrConnectionReset) || errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("%w: %w", ErrConnLost, io.ErrUnexpectedEOF)
	}
	return fmt.Errorf("%w: %w", ErrConnLost, err)
}
