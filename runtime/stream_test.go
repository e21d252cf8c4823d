package runtime

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
)

func TestMethodKinds(t *testing.T) {
	t.Parallel()
	opt, _ := optsFor(t)
	p := launch(t, ctxT(t, 30*time.Second), specFor(t, goodBin), opt)
	for method, want := range map[string]MethodKind{
		"Echo/Echo": Unary, "Count": ServerStreaming, "Collect": ClientStreaming, "Chat": Bidirectional,
	} {
		got, err := p.MethodKind(context.Background(), method, CallOptions{})
		if err != nil || got != want {
			t.Errorf("MethodKind(%s) = %q, %v; want %q", method, got, err, want)
		}
	}
	if _, err := p.MethodKind(context.Background(), "Nope", CallOptions{}); !errors.Is(err, ErrMethodNotFound) {
		t.Errorf("MethodKind(Nope): %v", err)
	}
}

func TestClientStreaming(t *testing.T) {
	t.Parallel()
	opt, _ := optsFor(t)
	p := launch(t, ctxT(t, 30*time.Second), specFor(t, goodBin), opt)
	// Inline: a JSON array of the request messages; none is an empty
	// stream, not an error.
	for args, want := range map[string]string{
		`[{"message": "a"}, {"message": "b"}]`: `{"message":"a b","n":"2"}`,
		`[]`:                                   `{}`,
		``:                                     `{}`,
	} {
		if got := mustCall(t, p, "Collect", args, CallOptions{}); !equal(got, []string{want}) {
			t.Errorf("Collect %s: got %q, want %s", args, got, want)
		}
	}
	// From a reader: each JSON document is a message, however laid out.
	co := CallOptions{Requests: JSONRequests(strings.NewReader("{\"message\": \"x\"} {\"message\":\n \"y\"}\n{\"message\": \"z\"}"))}
	if got := mustCall(t, p, "Collect", "", co); !equal(got, []string{`{"message":"x y z","n":"3"}`}) {
		t.Errorf("Collect from a reader: %q", got)
	}
	// Bad input: not an array; a message that does not fit (named by its
	// position); a document that does not parse.
	for _, tc := range []struct {
		args string
		co   CallOptions
		want string
	}{
		{`{"message": "a"}`, CallOptions{}, "JSON array"},
		{`[{"message": "a"}, {"bogus": 1}]`, CallOptions{}, "request message 2"},
		{``, CallOptions{Requests: JSONRequests(strings.NewReader(`{"message": "a"} {nope`))}, "request message 2 is not valid JSON"},
	} {
		_, err := call(ctxT(t, 10*time.Second), p, "Collect", tc.args, tc.co)
		var ae *ArgError
		if !errors.As(err, &ae) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Collect %q: want an *ArgError saying %q, got %v", tc.args, tc.want, err)
		}
	}
	// Requests' own error ends the call with it.
	mine := errors.New("no more input")
	_, err := call(ctxT(t, 10*time.Second), p, "Collect", "", CallOptions{Requests: func(send func([]byte) error) error {
		if err := send([]byte(`{"message": "a"}`)); err != nil {
			return err
		}
		return mine
	}})
	if !errors.Is(err, mine) {
		t.Errorf("Requests' error: got %v", err)
	}
	// The plugin survives all of it.
	mustCall(t, p, "Ping", "", CallOptions{})
}

// A bidirectional call hands each answer over as it arrives, while the
// requests are still being sent: here the next request is sent only once
// the answer to the previous one came back, which would never happen if
// answers were read only after the send side closed.
func TestBidirectionalInterleaves(t *testing.T) {
	t.Parallel()
	opt, _ := optsFor(t)
	p := launch(t, ctxT(t, 30*time.Second), specFor(t, goodBin), opt)
	ctx := ctxT(t, 20*time.Second)
	answered := make(chan string, 10)
	var got []string
	reqs := func(send func([]byte) error) error {
		for _, m := range []string{"one", "two", "three"} {
			if err := send([]byte(`{"message": "` + m + `"}`)); err != nil {
				return err
			}
			select {
			case <-answered:
			case <-ctx.Done():
				return errors.New("no answer to " + m + " before the send side closed")
			}
		}
		return nil
	}
	err := p.Call(ctx, "Chat", nil, CallOptions{Requests: reqs}, func(doc []byte) error {
		got = append(got, string(doc))
		answered <- string(doc)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{`{"message":"ONE","n":"1"}`, `{"message":"TWO","n":"2"}`, `{"message":"THREE","n":"3"}`}; !equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	// Inline, and a method error in the middle: the answers before it
	// were handed over, then the error.
	got = nil
	err = p.Call(ctx, "Chat", []byte(`[{"message": "a"}, {"message": "fail"}, {"message": "c"}]`), CallOptions{}, func(doc []byte) error {
		got = append(got, string(doc))
		return nil
	})
	var me *MethodError
	if !errors.As(err, &me) || me.Code != codes.FailedPrecondition || !equal(got, []string{`{"message":"A","n":"1"}`}) {
		t.Errorf("failing chat: got %q, %v", got, err)
	}
}

// Requests serves methods that take one request too: exactly one document
// (or none: an empty request).
func TestRequestsForOneRequest(t *testing.T) {
	t.Parallel()
	opt, _ := optsFor(t)
	p := launch(t, ctxT(t, 30*time.Second), specFor(t, goodBin), opt)
	co := CallOptions{Requests: JSONRequests(strings.NewReader(`{"message": "hi"}`))}
	if got := mustCall(t, p, "Echo/Echo", "", co); !equal(got, []string{`{"message":"hi"}`}) {
		t.Errorf("Echo: %q", got)
	}
	co = CallOptions{Requests: JSONRequests(strings.NewReader(`{"n": 2}`))}
	if got := mustCall(t, p, "Count", "", co); !equal(got, []string{`{"n":"1"}`, `{"n":"2"}`}) {
		t.Errorf("Count: %q", got)
	}
	co = CallOptions{Requests: JSONRequests(strings.NewReader(`{"message": "a"} {"message": "b"}`))}
	var ae *ArgError
	if _, err := call(context.Background(), p, "Echo/Echo", "", co); !errors.As(err, &ae) || !strings.Contains(err.Error(), "more than one request message") {
		t.Errorf("two documents for a unary method: %v", err)
	}
}
