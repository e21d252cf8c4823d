package keepwire

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"
)

// MaxRequest bounds one request (its arguments are a JSON document read
// from the command line or stdin); callers send larger arguments by
// attaching to the plugin instead.
const MaxRequest = 64 << 20

// Request is a call.
type Request struct {
	// Target is the NAME@VERSION the caller means: a keeper of another
	// declines.
	Target   string              `json:"target,omitempty"`
	Method   string              `json:"method"`
	Args     *json.RawMessage    `json:"args,omitempty"` // absent: no argument
	Metadata map[string][]string `json:"metadata,omitempty"`
	Deadline int64               `json:"deadline,omitempty"` // Unix nanoseconds; 0: none
	Decode   *bool               `json:"decode,omitempty"`   // absent: the plugin's profile decides
	// Stream: the request messages follow the request line, one Message
	// line each, then a Message with End (Args is then absent).
	Stream bool `json:"stream,omitempty"`
}

// Message is one line of a request's message stream.
type Message struct {
	Doc json.RawMessage `json:"doc,omitempty"`
	End bool            `json:"end,omitempty"`
}

// Reply is one line of the keeper's answer.
type Reply struct {
	Doc json.RawMessage `json:"doc,omitempty"`
	Err *Error          `json:"error,omitempty"`
	End bool            `json:"end,omitempty"`
	// Kind, on the End reply, is how the method exchanges messages
	// (runtime.MethodKind), so that a caller can shape its results.
	Kind string `json:"kind,omitempty"`
	// Declined says why the keeper did not serve the call; nothing ran.
	Declined string `json:"declined,omitempty"`
}

// NewReplyEncoder is the one way a keeper writes its replies: a result
// document goes through byte for byte, as a cold call prints it. (A plain
// json.Encoder would rewrite <, > and & inside the document as \u003c,
// \u003e and \u0026, so a warm call would print another text than a cold
// one for the same result.)
func NewReplyEncoder(w io.Writer) *json.Encoder {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc
}

// Error is a call's error with what the CLI maps to exit codes and hints:
// its kind and fields, the sentinels it wraps (by name), and its text.
type Error struct {
	Kind    string   `json:"kind"` // plugin, method, arg, diagnostics or other
	Message string   `json:"message"`
	Name    string   `json:"name,omitempty"`
	Op      string   `json:"op,omitempty"`
	Panic   string   `json:"panic,omitempty"`
	Method  string   `json:"method,omitempty"`
	Type    string   `json:"type,omitempty"`
	Code    uint32   `json:"code,omitempty"`
	Inner   string   `json:"inner,omitempty"` // the wrapped error's text
	Is      []string `json:"is,omitempty"`
	// Diagnostics of a "diagnostics" error (a Terraform result's).
	Diagnostics []json.RawMessage `json:"diagnostics,omitempty"`
}

func (e *Error) Error() string { return e.Message }

// DeclinedError is Call's error when the keeper did not serve the call, or
// the request never reached it: nothing ran.
type DeclinedError struct{ Reason string }

func (e *DeclinedError) Error() string { return "the keeper declined the call: " + e.Reason }

// LostError is Call's error when the connection failed after the request
// was sent: the call may have run.
type LostError struct{ Err error }

func (e *LostError) Error() string { return e.Err.Error() }
func (e *LostError) Unwrap() error { return e.Err }

// Call sends req on c and hands each result document to emit. Its error is
// a *DeclinedError (nothing ran), a *LostError, the keeper's *Error, or
// emit's. ctx ending makes the pending read fail, which hangs up and so
// cancels the call; the *LostError then wraps ctx's error.
func Call(ctx context.Context, c *os.File, req Request, emit func(doc []byte) error) error {
	_, err := CallEnd(ctx, c, req, emit)
	return err
}

// CallEnd is Call that also returns the keeper's End reply.
func CallEnd(ctx context.Context, c *os.File, req Request, emit func(doc []byte) error) (Reply, error) {
	return CallStream(ctx, c, req, nil, emit)
}

// CallStream is CallEnd with the request messages that requests sends
// (when not nil), written to the keeper as they come while its answers are
// read. An error of requests' own hangs up, which cancels the call, and is
// returned.
func CallStream(ctx context.Context, c *os.File, req Request, requests func(send func(doc []byte) error) error, emit func(doc []byte) error) (Reply, error) {
	hangUp := func() { _ = c.SetDeadline(time.Unix(1, 0)) }
	stop := context.AfterFunc(ctx, hangUp)
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		req.Deadline = dl.UnixNano()
	}
	req.Stream = requests != nil
	b, err := json.Marshal(req)
	if err != nil {
		return Reply{}, fmt.Errorf("keeper request: %w", err)
	}
	if _, err := c.Write(append(b, '\n')); err != nil {
		return Reply{}, &DeclinedError{Reason: err.Error()}
	}
	var sendErr atomic.Pointer[error]
	if requests != nil {
		go func() {
			w := bufio.NewWriter(c)
			write := func(m Message) error {
				b, err := json.Marshal(m)
				if err != nil {
					return err
				}
				if _, err := w.Write(append(b, '\n')); err != nil {
					return err
				}
				return w.Flush()
			}
			var sent error
			err := requests(func(doc []byte) error {
				if sent = write(Message{Doc: doc}); sent != nil {
					return sent
				}
				return nil
			})
			switch {
			case err != nil && (sent == nil || err != sent):
				sendErr.Store(&err)
				hangUp()
			case err == nil:
				_ = write(Message{End: true})
			}
		}()
	}
	dec := json.NewDecoder(bufio.NewReader(c))
	for first := true; ; first = false {
		var rep Reply
		if err := dec.Decode(&rep); err != nil {
			if p := sendErr.Load(); p != nil {
				return Reply{}, *p
			}
			if ctx.Err() != nil {
				err = ctx.Err()
			} else if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return Reply{}, &LostError{Err: err}
		}
		switch {
		case rep.Declined != "" && first:
			return Reply{}, &DeclinedError{Reason: rep.Declined}
		case rep.Declined != "":
			return Reply{}, &LostError{Err: fmt.Errorf("the keeper declined the call after it began: %s", rep.Declined)}
		case rep.Err != nil:
			return Reply{}, rep.Err
		case rep.End:
			return rep, nil
		case rep.Doc != nil:
			if err := emit(rep.Doc); err != nil {
				return Reply{}, err
			}
		}
	}
}
