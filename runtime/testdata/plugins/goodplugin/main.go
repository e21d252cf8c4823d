// Command goodplugin is a go-plugin gRPC plugin serving testsvc, with gRPC
// reflection as go-plugin registers it. TESTPLUGIN_MODE makes it misbehave.
package main

import (
	"context"
	"os"
	"strconv"

	plugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/plugctl/plugctl/runtime/testdata/plugins/testsvc"
)

type grpcPlugin struct{ plugin.NetRPCUnsupportedPlugin }

func (grpcPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	testsvc.Register(s)
	return nil
}

func (grpcPlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, nil
}

func main() {
	testsvc.Misbehave()
	version := 1
	if v, err := strconv.Atoi(os.Getenv("TESTPLUGIN_VERSION")); err == nil {
		version = v
	}
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: plugin.HandshakeConfig{
			ProtocolVersion:  uint(version),
			MagicCookieKey:   "PLUGCTL_PLUGIN",
			MagicCookieValue: "plugctl",
		},
		Plugins:    plugin.PluginSet{"test": grpcPlugin{}},
		GRPCServer: plugin.DefaultGRPCServer,
	})
}
