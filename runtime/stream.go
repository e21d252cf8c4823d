package runtime

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// Requests supplies the request messages of a call (CallOptions.Requests):
// it calls send once per message, in order, each a JSON document, and
// returns nil when there are no more, which closes the call's send side.
// Each message is sent before send returns, so a bidirectional method's
// answers can arrive while Requests is still producing. send fails once the
// call has ended (the plugin answered early, failed, or ctx ended); Requests
// should then stop and may return that error. An error Requests returns
// itself ends the call with that error.
//
// Call may return before Requests does, when the call ends while Requests
// waits for its next message (reading a terminal, say); it runs Requests
// on a goroutine of its own for streaming methods.
type Requests func(send func(json []byte) error) error

// MessageList supplies msgs as the request messages.
func MessageList(msgs ...[]byte) Requests {
	return func(send func([]byte) error) error {
		for _, m := range msgs {
			if err := send(m); err != nil {
				return err
			}
		}
		return nil
	}
}

// JSONRequests supplies each JSON document read from r as one request
// message, as soon as it is read (documents may span lines, or share
// one). A document that does not parse ends the call with an *ArgError.
func JSONRequests(r io.Reader) Requests {
	return func(send func([]byte) error) error {
		dec := json.NewDecoder(bufio.NewReader(r))
		for n := 1; ; n++ {
			var doc json.RawMessage
			err := dec.Decode(&doc)
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return &ArgError{Err: fmt.Errorf("request message %d is not valid JSON: %w", n, err)}
			}
			if err := send(doc); err != nil {
				return err
			}
		}
	}
}

// errCallEnded is send's error once the call has ended.
var errCallEnded = errors.New("the call has ended")

// oneRequest is the request of a method that takes one: args, or else the
// only message co.Requests supplies.
func (co CallOptions) oneRequest(method string, args []byte) ([]byte, error) {
	if co.Requests == nil || len(bytes.TrimSpace(args)) > 0 {
		return args, nil
	}
	var one []byte
	n := 0
	err := co.Requests(func(doc []byte) error {
		n++
		if n > 1 {
			return &ArgError{Method: method, Err: errors.New("more than one request message: the method takes one")}
		}
		one = append([]byte(nil), doc...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return one, nil
}

// inlineRequests reads args, a JSON array of messages (empty: none), as
// the request messages of a method that takes a stream of them.
func inlineRequests(method string, args []byte) (Requests, error) {
	if len(bytes.TrimSpace(args)) == 0 {
		return MessageList(), nil
	}
	var msgs []json.RawMessage
	if err := json.Unmarshal(args, &msgs); err != nil || msgs == nil {
		return nil, &ArgError{Method: method, Err: errors.New("a client- or bidirectional-streaming method takes a JSON array of request messages ([] for none), or one message per JSON document from stdin with -")}
	}
	b := make([][]byte, len(msgs))
	for i, m := range msgs {
		b[i] = m
	}
	return MessageList(b...), nil
}

// callClientStreaming calls a client-streaming or bidirectional method m:
// the request messages are sent as Requests supplies them, on a goroutine,
// while the answers are received (and, for a bidirectional method, emitted
// as they arrive) here.
func (p *Plugin) callClientStreaming(ctx context.Context, m protoreflect.MethodDescriptor, s *schema, args []byte, co CallOptions, emit func([]byte) error) error {
	full := string(m.Parent().FullName()) + "/" + string(m.Name())
	reqs := co.Requests
	if reqs == nil || len(bytes.TrimSpace(args)) > 0 {
		var err error
		if reqs, err = inlineRequests(full, args); err != nil {
			return err
		}
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Received as a stream whatever the kind: a client-streaming method
	// that ends with OK and no message (go-plugin's streaming example's
	// Write does) then answers its empty message rather than a
	// cardinality error, as older gRPC clients saw it.
	st, err := p.conn.NewStream(sctx, &grpc.StreamDesc{ClientStreams: true, ServerStreams: true}, "/"+full)
	if err != nil {
		return p.grpcError(ctx, full, err)
	}

	// The sender's outcome: an error of the request messages (bad JSON,
	// a bad message, Requests' own) ends the call with it.
	var (
		mu      sync.Mutex
		ended   bool
		sendErr error
	)
	uo := protojson.UnmarshalOptions{Resolver: s.types}
	go func() {
		n := 0
		err := reqs(func(doc []byte) error {
			mu.Lock()
			over := ended
			mu.Unlock()
			if over {
				return errCallEnded
			}
			n++
			req := dynamicpb.NewMessage(m.Input())
			if len(bytes.TrimSpace(doc)) > 0 {
				if err := uo.Unmarshal(doc, req); err != nil {
					return &ArgError{Method: full, Type: string(m.Input().FullName()), Err: fmt.Errorf("request message %d: %w", n, err)}
				}
			}
			if err := st.SendMsg(req); err != nil {
				// io.EOF: the stream ended; RecvMsg has its status.
				return errCallEnded
			}
			return nil
		})
		if err != nil && !errors.Is(err, errCallEnded) {
			mu.Lock()
			sendErr = err
			mu.Unlock()
			cancel()
			return
		}
		_ = st.CloseSend()
	}()
	finish := func(err error) error {
		mu.Lock()
		ended = true
		se := sendErr
		mu.Unlock()
		if se != nil {
			return se
		}
		return err
	}
	var only []byte // a client-streaming method's answer, emitted at its end
	for n := 0; ; n++ {
		resp := dynamicpb.NewMessage(m.Output())
		err := st.RecvMsg(resp)
		if errors.Is(err, io.EOF) {
			if m.IsStreamingServer() {
				return finish(nil)
			}
			if only == nil {
				if only, err = marshalJSON(dynamicpb.NewMessage(m.Output()), s); err != nil {
					return finish(err)
				}
			}
			return finish(emit(only))
		}
		if err != nil {
			// A sender's error cancelled the stream (it is set before
			// the cancel): report that, not the cancellation.
			if se := sendErrNow(&mu, &sendErr); se != nil {
				return finish(se)
			}
			return finish(p.grpcError(ctx, full, err))
		}
		out, err := marshalJSON(resp, s)
		if err != nil {
			return finish(err)
		}
		if !m.IsStreamingServer() {
			if n > 0 {
				return finish(&MethodError{Method: full, Code: codes.Internal, Message: "a client-streaming method answered more than one message"})
			}
			only = out
			continue
		}
		if err := emit(out); err != nil {
			return finish(err)
		}
	}
}

func sendErrNow(mu *sync.Mutex, err *error) error {
	mu.Lock()
	defer mu.Unlock()
	return *err
}
