// Package sdktest serves a value the way sdk.Serve does, in-process, for a
// plugin's own tests: through go-plugin's gRPC server, with the health and
// reflection services a real plugin has, and returns a connection to it.
//
//	func TestGreet(t *testing.T) {
//		conn := sdktest.Serve(t, Greeter{})
//		var out wrapperspb.StringValue
//		err := conn.Invoke(context.Background(), "/plugctl.sdk.greeter.Greeter/Greet", wrapperspb.String("world"), &out)
//		...
//	}
//
// It is a package of its own so that the testing package stays out of
// plugin binaries, which import sdk.
//
// # What this package does not do
//
// No handshake and no process: a test that needs the plugin as plugctl runs
// it (the handshake, the magic cookie, the exit on a bad method) builds the
// plugin and runs it with go-plugin's client, or with plugctl itself.
package sdktest

import (
	"testing"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/plugctl/plugctl/sdk"
)

// Serve serves impl in-process as sdk.Serve would, and returns a connection
// to it; both are closed when the test ends. It fails the test if impl
// cannot be served.
func Serve(t testing.TB, impl any) *grpc.ClientConn {
	t.Helper()
	return ServeWith(t, sdk.ServeConfig{}, impl)
}

// ServeWith is Serve with c's settings (c.Name; the handshake does not
// apply: there is none in-process).
func ServeWith(t testing.TB, c sdk.ServeConfig, impl any) *grpc.ClientConn {
	t.Helper()
	gp, name, err := c.Plugin(impl)
	if err != nil {
		t.Fatal(err)
	}
	p, ok := gp.(plugin.Plugin)
	if !ok {
		t.Fatalf("sdktest: %T is not a go-plugin Plugin", gp)
	}
	client, _ := plugin.TestPluginGRPCConn(t, false, map[string]plugin.Plugin{name: p})
	// Close calls the controller's Shutdown, which stops the server; a
	// second GRPCServer.Stop would race with that one.
	t.Cleanup(func() { _ = client.Close() })
	return client.Conn
}
