// Package sdk turns a Go value into a go-plugin gRPC plugin that plugctl
// (and any gRPC client with server reflection, such as grpcurl) can call,
// with no .proto file to write. A complete plugin:
//
//	package main
//
//	import "github.com/plugctl/plugctl/sdk"
//
//	type Greeter struct{}
//
//	func (Greeter) Greet(name string) string { return "Hello, " + name + "!" }
//
//	func main() { sdk.Serve(Greeter{}) }
//
// and then:
//
//	$ plugctl call greeter Greet '"world"'
//	"Hello, world!"
//
// # What Serve does
//
// At start, Serve builds protobuf descriptors for the value's exported
// methods with reflect, registers the file plugctl/sdk/<name>.proto in
// protoregistry.GlobalFiles (where the reflection service go-plugin adds to
// every gRPC plugin finds it, so `plugctl describe` shows real field names
// and types), and serves a gRPC service whose handlers convert dynamic
// protobuf messages to and from Go values. It uses plugctl's default
// handshake (DefaultHandshake: MagicCookieKey PLUGCTL_PLUGIN, value
// plugctl, protocol version 1). ServeConfig changes the name, the handshake
// and the logger:
//
//	sdk.ServeConfig{Name: "greeter"}.Serve(impl)
//
// # Names
//
// A plugin named "greeter" (ServeConfig.Name; default: the Go type name of
// the value, lower-cased) serves the service plugctl.sdk.greeter.Greeter
// (ServiceName), with one RPC per exported method, named as the method.
// The name is also the plugin's key in go-plugin's plugin map, which a Go
// host passes to Dispense; the dispensed value is the *grpc.ClientConn.
//
// # Methods
//
// Every exported method in the value's method set becomes a unary RPC:
// pass a pointer (sdk.Serve(&Store{})) to serve pointer-receiver methods.
// Methods promoted from embedded fields count too: keep helpers unexported,
// and hold a sync.Mutex in a named field, not embedded. Accepted shapes: an
// optional context.Context first, then at most one argument; at most one
// result, then an optional error:
//
//	M()                     M(A)                      M(ctx, A)
//	M() R                   M(A) R                    M(ctx, A) R
//	M() error               M(A) error                M(ctx, A) (R, error)
//
// The context is the call's: it carries the incoming gRPC metadata
// (metadata.FromIncomingContext; `plugctl call -H 'key: value'`) and is
// cancelled when the caller gives up. Several arguments or results: use a
// struct. Serve refuses to start (stderr, exit status 1) if any exported
// method has another shape or a type listed as unsupported below, and names
// every such method; ServeConfig.Check reports the same in a test.
//
// # Type mapping
//
// Arguments and results (the top level):
//
//	none                        google.protobuf.Empty            {}
//	string                      google.protobuf.StringValue      "text"
//	bool                        google.protobuf.BoolValue        true
//	int, int64                  google.protobuf.Int64Value       "42" (protojson quotes 64-bit integers; input may be 42 or "42")
//	int8, int16, int32          google.protobuf.Int32Value       42
//	uint, uint64, uintptr       google.protobuf.UInt64Value      "42"
//	uint8, uint16, uint32       google.protobuf.UInt32Value      42
//	float32 / float64           google.protobuf.FloatValue / DoubleValue   1.5
//	[]byte                      google.protobuf.BytesValue       "aGk=" (base64)
//	time.Time                   google.protobuf.Timestamp        "2026-01-02T15:04:05Z"
//	time.Duration               google.protobuf.Duration         "1.5s"
//	any (interface{})           google.protobuf.Value            any JSON value
//	struct S, *S                message S                        {"field": …}
//	[]T (not []byte)            message <Method>Request / <Method>Response with one field "value"
//	map[K]V                     (the same)                       {"value": […]} / {"value": {…}}
//
// Wrappers make scalars bare JSON on the command line: protojson renders a
// wrapper as its value. A slice or map is wrapped in a generated message
// (not ListValue or Struct) so that its element types stay visible to
// `describe`; its only field is named "value". Pointers to scalars at the
// top level are the scalar; a nil *S result is an empty message.
//
// Fields of structs (nested structs become messages too):
//
//	string, bool, ints, uints, floats, []byte   the protobuf scalar of the table above
//	                                            (int, int64 → int64; int8..int32 → int32; and so on)
//	*string, *int64, … (pointer to scalar)      the wrapper message: nil is absent, and distinct from zero
//	struct, *struct                             a message named after the Go type (nil *struct: absent)
//	[]T                                         repeated T
//	map[K]V                                     map<K, V>; K a string, integer or bool
//	time.Time, time.Duration, any               Timestamp, Duration, Value (zero time, nil any: absent)
//
// A field's protobuf name, and its JSON name, is its json tag's name, or the
// Go field name without one: protojson input and output use exactly that
// name. `json:"-"` and unexported fields are left out; an untagged embedded
// struct (not a pointer to one) is flattened into its parent, as
// encoding/json does; other tag
// options (omitempty, string) are ignored. Field numbers follow declaration
// order, so reordering fields changes the wire format for clients holding an
// old descriptor (plugctl reads it from the plugin at every call). Recursive
// types are fine. Names that are not protobuf identifiers (a json tag
// "first-name") are an error at start.
//
// Not supported (Serve refuses the method): channels, functions, complex
// numbers, arrays, interfaces other than any, pointers to pointers, slices
// or maps whose elements are slices or maps ([][]int, map[string][]string:
// wrap the inner one in a struct), map keys that are floats or structs,
// variadic methods, streaming.
//
// # Errors and panics
//
// A non-nil error reaches the caller as a gRPC status: codes.Unknown with
// the error's message, which plugctl reports with exit status 6. Return a
// status error (status.Error(codes.NotFound, …), possibly wrapped) to choose
// the code: codes.Unimplemented maps to exit 3, codes.Unavailable and
// codes.DeadlineExceeded to exit 5, any other to 6. An argument that does
// not fit its Go type (300 for an int8) fails with codes.InvalidArgument
// before the method runs. A panic is not recovered: the plugin dies as any
// Go gRPC server would, with "panic: …" on stderr, and plugctl reports a
// crashed plugin (exit 5).
//
// # Tests
//
// Package sdktest serves a value in-process through go-plugin's gRPC server
// (health and reflection included) and returns a *grpc.ClientConn for the
// test; ServeConfig.Check reports, without serving, whether a value can be
// served. (sdktest is a package of its own so that plugin binaries do not
// link the testing package.)
//
// # What this package does not do
//
// No streaming methods, no net/rpc protocol, no go-plugin broker (plugins
// calling back into the host), no versioned plugin sets: a plugin that needs
// those writes a .proto file and calls plugin.Serve itself (ServeConfig.Plugin
// gives the SDK's plugin to serve next to others). TLS, sockets, health,
// reflection and stdio forwarding are go-plugin's.
package sdk
