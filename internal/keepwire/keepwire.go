package keepwire

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
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
}

// Reply is one line of the keeper's answer.
type Reply struct {
	Doc json.RawMessage `json:"doc,omitempty"`
	Err *Error          `json:"error,omitempty"`
	End bool            `json:"end,omitempty"`
	// Declined says why the keeper did not serve the call; nothing ran.
	Declined string `json:"declined,omitempty"`
}

// Error is a call's error with what the CLI maps to exit codes and hints:
// its kind and fields, the sentinels it wraps (by name), and its text.
type Error struct {
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
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		req.Deadline = dl.UnixNano()
	}
	b, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("keeper request: %w", err)
	}
	if _, err := c.Write(append(b, '\n')); err != nil {
		return &DeclinedError{Reason: err.Error()}
	}
	dec := json.NewDecoder(bufio.NewReader(c))
	for first := true; ; first = false {
		var rep Reply
		if err := dec.Decode(&rep); err != nil {
			if ctx.Err() != nil {
				err = ctx.Err()
			} else if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return &LostError{Err: err}
		}
		switch {
		case rep.Declined != "" && first:
			return &DeclinedError{Reason: rep.Declined}
		case rep.Declined != "":
			return &LostError{Err: fmt.Errorf("the keeper declined the call after it began: %s", rep.Declined)}
		case rep.Err != nil:
			return rep.Err
		case rep.End:
			return nil
		case rep.Doc != nil:
			if err := emit(rep.Doc); err != nil {
				return err
			}
		}
	}
}
