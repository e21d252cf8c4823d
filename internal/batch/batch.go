// Package batch runs many calls to one plugin from a stream of JSON lines
// (plugctl call NAME --batch): one session with the plugin serves them all,
// in order, one output line per request.
//
// Input: one request per line,
//
//	{"id": ANY, "method": "M", "args": JSON, "metadata": {"k": "v" or ["v1", "v2"]}}
//
// (id, args and metadata optional; blank lines are skipped). Output: one
// line per request, in input order,
//
//	{"id": ID, "result": JSON}
//	{"id": ID, "error": {"code": N, "message": "...", "hint": "..."}}
//
// A result is the method's message for unary and client-streaming methods,
// a JSON array of its messages for server-streaming and bidirectional ones.
// A line that is not such a request answers an error with code 2 (and the
// id when one could be read); the batch goes on. Codes and hints are the
// caller's (Options.Classify), so that they match a single call's.
package batch

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/plugctl/plugctl/runtime"
	"github.com/plugctl/plugctl/store"
)

// Conn is a session with the plugin that serves a batch's requests.
type Conn interface {
	// Call makes one call, handing each result document to emit, and
	// says, when it succeeds, how the method exchanges messages.
	Call(ctx context.Context, method string, args []byte, co runtime.CallOptions, emit func(json []byte) error) (runtime.MethodKind, error)
	// Close ends the session (a plugin launched for it stops).
	Close() error
}

// ErrDeclined is a Conn's error when it could not serve a call and nothing
// ran: a keeper that declined. The request is made again on a Conn opened
// without a keeper.
var ErrDeclined = errors.New("declined: nothing ran")

// Options configure Run.
type Options struct {
	// Open connects to the plugin: before the first request, and again
	// after a request failed because of the plugin (a crash: the next
	// request starts it anew). keeper false asks for a session of the
	// batch's own (a keeper declined a call).
	Open func(ctx context.Context, keeper bool) (Conn, error)
	// Classify gives the exit code and hint of a request's error.
	Classify func(error) (code int, hint string)
	// Timeout bounds each request, including the launch it may need; 0:
	// none.
	Timeout time.Duration
	// CallOptions are every request's schema options and metadata; a
	// request's own metadata is added to the latter.
	CallOptions runtime.CallOptions
}

// MaxLine bounds one request line.
const MaxLine = 64 << 20

// request is one input line.
type request struct {
	ID       json.RawMessage            `json:"id"`
	Method   string                     `json:"method"`
	Args     json.RawMessage            `json:"args"`
	Metadata map[string]json.RawMessage `json:"metadata"`
}

// Run reads requests from in until its end (or ctx's), makes each call and
// writes its answer to out. code is 0 when every request succeeded, else
// the code of the first that failed. err is an error reading in or writing
// out, or ctx's: the batch stopped there.
func Run(ctx context.Context, in io.Reader, out io.Writer, o Options) (code int, err error) {
	r := &runner{o: o, keeper: true}
	defer r.close()
	lines := make(chan readResult)
	done := make(chan struct{})
	defer close(done)
	go readLines(in, lines, done)
	w := bufio.NewWriter(out)
	for line := 1; ; line++ {
		var text []byte
		var rerr error
		// An interrupt ends the batch even while it waits for input that
		// does not come (a pipe its writer keeps open).
		select {
		case <-ctx.Done():
			return code, ctx.Err()
		case rr := <-lines:
			text, rerr = rr.text, rr.err
		}
		if rerr != nil && !errors.Is(rerr, io.EOF) {
			return code, fmt.Errorf("read requests: %w", rerr)
		}
		if len(bytes.TrimSpace(text)) > 0 {
			ans, c := r.do(ctx, line, text)
			if c != 0 && code == 0 {
				code = c
			}
			if err := ctx.Err(); err != nil {
				// Interrupted: the request in flight has no answer.
				return code, err
			}
			if _, err := w.Write(append(ans, '\n')); err != nil {
				return code, fmt.Errorf("write results: %w", err)
			}
			// Each answer goes out as soon as it is known: a script may
			// be waiting for it before sending the next request.
			if err := w.Flush(); err != nil {
				return code, fmt.Errorf("write results: %w", err)
			}
		}
		if rerr != nil {
			return code, nil
		}
	}
}

type readResult struct {
	text []byte
	err  error
}

// readLines sends in's lines to lines until a read fails (io.EOF at its
// end) or done is closed.
func readLines(in io.Reader, lines chan<- readResult, done <-chan struct{}) {
	br := bufio.NewReaderSize(in, 64<<10)
	for {
		text, err := readLine(br)
		select {
		case lines <- readResult{text, err}:
		case <-done:
			return
		}
		if err != nil {
			return
		}
	}
}

// readLine reads one line without its newline, failing on one longer than
// MaxLine.
func readLine(br *bufio.Reader) ([]byte, error) {
	var buf []byte
	for {
		chunk, err := br.ReadSlice('\n')
		buf = append(buf, chunk...)
		if len(buf) > MaxLine {
			return nil, fmt.Errorf("a request line is longer than %d bytes", MaxLine)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return bytes.TrimSuffix(buf, []byte("\n")), err
	}
}

type runner struct {
	o      Options
	conn   Conn
	keeper bool
}

func (r *runner) close() {
	if r.conn != nil {
		_ = r.conn.Close()
		r.conn = nil
	}
}

// lineError is an input line that is not a request (exit code 2).
type lineError struct{ msg string }

func (e *lineError) Error() string { return e.msg }

// IsLineError reports whether err is about a request line itself (not
// JSON, no method, bad metadata): a usage error.
func IsLineError(err error) bool {
	var le *lineError
	return errors.As(err, &le)
}

// do answers one line.
func (r *runner) do(ctx context.Context, line int, text []byte) (answer []byte, code int) {
	req, id, err := parse(line, text)
	if err != nil {
		return r.errorLine(id, err)
	}
	co := r.o.CallOptions
	co.Metadata = metadata.Join(co.Metadata, req.metadata)
	if r.o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.o.Timeout)
		defer cancel()
	}
	var docs []json.RawMessage
	emit := func(doc []byte) error {
		docs = append(docs, append(json.RawMessage(nil), doc...))
		return nil
	}
	kind, err := r.call(ctx, req.Method, req.args, co, emit)
	var de *runtime.DiagnosticsError
	if errors.As(err, &de) && len(docs) == 1 {
		// A result that reports its own failure (a Terraform ERROR
		// diagnostic): the line carries both.
		b := append([]byte(`{"id":`), id...)
		b = append(b, `,"result":`...)
		b = append(b, docs[0]...)
		e, code := r.errorObject(err)
		b = append(b, `,"error":`...)
		b = append(b, e...)
		return append(b, '}'), code
	}
	if err != nil {
		return r.errorLine(id, err)
	}
	var result []byte
	switch {
	case kind.StreamsResults():
		if docs == nil {
			docs = []json.RawMessage{}
		}
		result = appendArray(nil, docs)
	case len(docs) == 1:
		result = docs[0]
	default:
		err = fmt.Errorf("%s answered %d messages, want 1", req.Method, len(docs))
	}
	if err != nil {
		return r.errorLine(id, err)
	}
	b := make([]byte, 0, len(id)+len(result)+24)
	b = append(b, `{"id":`...)
	b = append(b, id...)
	b = append(b, `,"result":`...)
	b = append(b, result...)
	return append(b, '}'), 0
}

// call makes one call on the batch's session, opening it first when
// needed, and drops a session that failed because of the plugin.
func (r *runner) call(ctx context.Context, method string, args []byte, co runtime.CallOptions, emit func([]byte) error) (runtime.MethodKind, error) {
	for {
		if r.conn == nil {
			c, err := r.o.Open(ctx, r.keeper)
			if err != nil {
				return "", err
			}
			r.conn = c
		}
		kind, err := r.conn.Call(ctx, method, args, co, emit)
		if errors.Is(err, ErrDeclined) && r.keeper {
			r.close()
			r.keeper = false
			continue
		}
		var pe *runtime.PluginError
		if errors.As(err, &pe) {
			// Crashed, unreachable or timed out: the next request
			// gets a fresh session (and, for a crash, a fresh process).
			r.close()
		}
		return kind, err
	}
}

func (r *runner) errorLine(id json.RawMessage, err error) ([]byte, int) {
	eb, code := r.errorObject(err)
	b := append([]byte(`{"id":`), id...)
	b = append(b, `,"error":`...)
	b = append(b, eb...)
	return append(b, '}'), code
}

// errorObject is err as a line's "error" value, with its exit code: a
// result's diagnostics name the first error's summary and list them all,
// as a single call's JSON error does.
func (r *runner) errorObject(err error) ([]byte, int) {
	code, hint := r.o.Classify(err)
	if code == 0 {
		code = 1
	}
	e := struct {
		Code        int               `json:"code"`
		Message     string            `json:"message"`
		Hint        string            `json:"hint,omitempty"`
		Diagnostics []json.RawMessage `json:"diagnostics,omitempty"`
	}{Code: code, Message: err.Error(), Hint: hint}
	var de *runtime.DiagnosticsError
	if errors.As(err, &de) {
		e.Message, e.Diagnostics = de.Summary, de.Diagnostics
	}
	return marshal(e), code
}

// parsed is a request ready to call.
type parsed struct {
	Method   string
	args     []byte
	metadata metadata.MD
}

// parse reads one request line. id is the request's id (compact JSON),
// null when it has none or the line is not a JSON object.
func parse(line int, text []byte) (req parsed, id json.RawMessage, err error) {
	id = json.RawMessage("null")
	var raw request
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		// The id, when the line is an object that has one, so that the
		// error can be matched to its request.
		var loose struct {
			ID json.RawMessage `json:"id"`
		}
		if json.Unmarshal(text, &loose) == nil && len(loose.ID) > 0 {
			id = compact(loose.ID)
		}
		return req, id, &lineError{fmt.Sprintf("line %d: not a request: %v (want {\"id\": ..., \"method\": \"M\", \"args\": ..., \"metadata\": {...}})", line, err)}
	}
	if dec.More() {
		return req, id, &lineError{fmt.Sprintf("line %d: more than one JSON value (one request per line)", line)}
	}
	if len(raw.ID) > 0 {
		id = compact(raw.ID)
	}
	if raw.Method == "" {
		return req, id, &lineError{fmt.Sprintf("line %d: no \"method\"", line)}
	}
	req.Method = raw.Method
	if a := bytes.TrimSpace(raw.Args); len(a) > 0 && !bytes.Equal(a, []byte("null")) {
		req.args = a
	}
	keys := make([]string, 0, len(raw.Metadata))
	for k := range raw.Metadata {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		var one string
		var many []string
		switch v := raw.Metadata[k]; {
		case json.Unmarshal(v, &one) == nil && !bytes.Equal(bytes.TrimSpace(v), []byte("null")):
			many = []string{one}
		case json.Unmarshal(v, &many) == nil && many != nil:
		default:
			return req, id, &lineError{fmt.Sprintf("line %d: metadata %q: want a string or an array of strings", line, k)}
		}
		// The key is checked by the call, as a single call's -H is: one
		// rule for which keys gRPC accepts.
		if req.metadata == nil {
			req.metadata = metadata.MD{}
		}
		req.metadata.Append(k, many...)
	}
	return req, id, nil
}

func compact(b []byte) json.RawMessage {
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return json.RawMessage("null")
	}
	return buf.Bytes()
}

// PluginConn is a session on p, a launched or attached plugin; Close
// closes p.
func PluginConn(p *runtime.Plugin) Conn {
	return &pluginConn{p: p, kinds: map[string]runtime.MethodKind{}}
}

type pluginConn struct {
	p *runtime.Plugin
	// kinds remembers each method name's kind for the session: a schema
	// from --proto files is compiled anew at every lookup.
	kinds map[string]runtime.MethodKind
}

func (c *pluginConn) Call(ctx context.Context, method string, args []byte, co runtime.CallOptions, emit func([]byte) error) (runtime.MethodKind, error) {
	if err := c.p.Call(ctx, method, args, co, emit); err != nil {
		return "", err
	}
	if k, ok := c.kinds[method]; ok {
		return k, nil
	}
	k, err := c.p.MethodKind(ctx, method, co)
	if err == nil {
		c.kinds[method] = k
	}
	return k, err
}

func (c *pluginConn) Close() error { return c.p.Close() }

// KeeperConn calls through the keeper of s, a started plugin of home
// running r's binary; a call it declines fails with ErrDeclined.
func KeeperConn(s *runtime.StartedPlugin, home store.Paths, r *store.Receipt) Conn {
	return keeperConn{s, home, r}
}

type keeperConn struct {
	s    *runtime.StartedPlugin
	home store.Paths
	r    *store.Receipt
}

func (c keeperConn) Call(ctx context.Context, method string, args []byte, co runtime.CallOptions, emit func([]byte) error) (runtime.MethodKind, error) {
	used, kind, err := c.s.CallKeeperKind(ctx, c.home, c.r, method, args, co, emit)
	if !used {
		return "", ErrDeclined
	}
	return kind, err
}

func (c keeperConn) Close() error { return nil }

// appendArray writes docs as one JSON array, each as the call printed it:
// json.Marshal would re-escape <, > and & inside them, and a result must
// read the same whichever path served it.
func appendArray(b []byte, docs []json.RawMessage) []byte {
	b = append(b, '[')
	for i, d := range docs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, d...)
	}
	return append(b, ']')
}

// marshal is json.Marshal without HTML escaping, as results are printed.
func marshal(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}
