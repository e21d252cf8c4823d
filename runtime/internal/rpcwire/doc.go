// Package rpcwire speaks go-plugin's net/rpc protocol to a plugin whose
// Go types plugctl does not have: it opens the session go-plugin's
// RPCClient would, dispenses a plugin by name and calls its methods with
// JSON arguments, gob-coded by gobwire.
//
// go-plugin's RPCClient keeps the connection, the control client and the
// broker unexported, and hands each dispensed stream to a Plugin.Client
// already wrapped in a gob rpc.Client; its Close also always sends
// Control.Quit. Nothing exported gives the raw dispensed stream, so this
// package repeats the protocol (go-plugin v1.8.0 rpc_client.go,
// rpc_server.go, mux_broker.go):
//
//   - a yamux client session on the connection;
//   - three streams opened in the order the plugin accepts them: control,
//     stdout, stderr. The plugin copies its os.Stdout and os.Stderr into
//     the last two; Options sends them to a writer;
//   - net/rpc on the control stream: Dispenser.Dispense(name) returns a
//     broker id; Control.Ping and Control.Quit take a bool;
//   - the MuxBroker dial: a new stream, the id as a little-endian uint32,
//     the plugin echoes it; then net/rpc on that stream, service "Plugin".
//
// Each net/rpc call writes rpc.Request{ServiceMethod, Seq} and the
// argument, and reads rpc.Response{ServiceMethod, Seq, Error} and the
// reply (an empty struct after an error). Calls on one stream take turns.
// A deadline or cancellation breaks the stream it hits (the dispensed
// stream is dropped and re-dispensed by the next call; the control stream
// takes the session with it).
//
// Errors are typed for the CLI to map: ErrUnknownMethod, ErrUnknownPlugin,
// *MethodError (the method returned an error), *ArgError (the argument
// could not be encoded, or the plugin's gob could not decode it into the
// method's type: its Expected and Given fields come from gob's message),
// ErrConnLost (wrapping io.ErrUnexpectedEOF when the plugin went away
// mid-call) and context errors. No exit codes or hints beyond the
// ArgError's one line are chosen here.
//
// It does not launch, verify or kill plugins, apply TLS (the caller hands
// in a connection with TLS already on it), serve the host side of
// go-plugin's broker (a plugin that dials back into the host is refused),
// or speak gRPC.
package rpcwire
