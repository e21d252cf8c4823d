package runtime

import (
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
)

// ErrMethodNotFound is wrapped by every error saying that a plugin has no
// such method or service, including a gRPC Unimplemented status. The CLI
// maps it to exit code 3.
var ErrMethodNotFound = errors.New("method not found")

// ErrAmbiguousMethod is wrapped when a short method name matches methods of
// several services; the message lists the full names to choose from. It is a
// usage error (exit code 2).
var ErrAmbiguousMethod = errors.New("ambiguous method name")

// ErrUnsupported is wrapped when a plugin or method is of a kind this
// package cannot call: client- or bidirectional-streaming gRPC methods, or a
// description of a net/rpc plugin (exit code 1).
var ErrUnsupported = errors.New("not supported")

// ErrBadMetadata is wrapped (in an *ArgError) when a key of
// CallOptions.Metadata is not a valid gRPC metadata key: [a-z0-9-_.], not
// starting with "grpc-" (exit code 2).
var ErrBadMetadata = errors.New("invalid metadata key")

// ErrGobType is wrapped (in an *ArgError) when a net/rpc plugin's argument
// could not be encoded as gob, or the plugin could not decode it into the Go
// type its method takes: the caller states the type with {"$gob": "TYPE",
// "value": VALUE} (exit code 2).
var ErrGobType = errors.New("argument of the wrong Go type")

// Ops of a *PluginError.
const (
	OpStart     = "start"     // the process could not be started
	OpHandshake = "handshake" // it started but did not complete go-plugin's handshake
	OpCall      = "call"      // it failed while being called: crash, timeout, unreachable
)

// PluginError says that the plugin process failed rather than one of its
// methods: it would not start, the handshake failed, it crashed, it timed out,
// or it became unreachable (gRPC Unavailable or DeadlineExceeded). The CLI
// maps it to exit code 5.
type PluginError struct {
	Name  string // the plugin's name
	Op    string // OpStart, OpHandshake or OpCall
	Err   error  // what went wrong; wraps context.DeadlineExceeded on timeouts
	Panic string // the first "panic:" (or "fatal error:") line the plugin printed on stderr, if any
}

func (e *PluginError) Error() string {
	msg := fmt.Sprintf("plugin %s: %v", e.Name, e.Err)
	if e.Panic != "" && !strings.Contains(msg, e.Panic) {
		msg += ": " + e.Panic
	}
	return msg
}

func (e *PluginError) Unwrap() error { return e.Err }

// MethodError is a gRPC status other than OK, Unimplemented, Unavailable and
// DeadlineExceeded returned by a plugin's method, or an error returned by a
// net/rpc method (with Code Unknown). The CLI maps it to exit code 6.
type MethodError struct {
	Method  string     // full method name, e.g. "proto.KV/Get"
	Code    codes.Code // gRPC status code; codes.Unknown for net/rpc
	Message string     // the status message
}

func (e *MethodError) Error() string {
	return fmt.Sprintf("%s: %s: %s", e.Method, e.Code, e.Message)
}

// ArgError says that the call's argument could not be turned into the
// method's request (bad JSON, unknown field, wrong type) or that a metadata
// header was malformed. The CLI maps it to exit code 2.
type ArgError struct {
	Method string // full method name, when known
	Type   string // request message type, when known
	Err    error
}

func (e *ArgError) Error() string {
	switch {
	case e.Method != "" && e.Type != "":
		return fmt.Sprintf("invalid argument for %s (%s): %v", e.Method, e.Type, e.Err)
	case e.Method != "":
		return fmt.Sprintf("invalid argument for %s: %v", e.Method, e.Err)
	}
	return fmt.Sprintf("invalid argument: %v", e.Err)
}

func (e *ArgError) Unwrap() error { return e.Err }

// withSentinel is err (its text and chain) that also wraps sentinel, which
// its text need not name.
type withSentinel struct {
	err, sentinel error
}

func (e *withSentinel) Error() string   { return e.err.Error() }
func (e *withSentinel) Unwrap() []error { return []error{e.err, e.sentinel} }
