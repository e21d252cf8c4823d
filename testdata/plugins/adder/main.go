// Command adder is a helper for go-plugin's bidirectional example: a
// go-plugin gRPC plugin (default handshake PLUGCTL_PLUGIN=plugctl,
// protocol version 1, plugin map name "adder") serving that example's
// proto.AddHelper, whose Sum returns a+b. Given as {"$broker": "adder"} in
// the counter's Put request, plugctl serves it on the counter's broker.
//
//	go build -o adder ./testdata/plugins/adder
package main

import (
	"context"

	"github.com/hashicorp/go-plugin"
	"github.com/hashicorp/go-plugin/examples/bidirectional/proto"
	"google.golang.org/grpc"

	"github.com/plugctl/plugctl/sdk"
)

type adder struct {
	proto.UnimplementedAddHelperServer
}

func (adder) Sum(_ context.Context, req *proto.SumRequest) (*proto.SumResponse, error) {
	return &proto.SumResponse{R: req.GetA() + req.GetB()}, nil
}

type adderPlugin struct{ plugin.NetRPCUnsupportedPlugin }

func (adderPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	proto.RegisterAddHelperServer(s, adder{})
	return nil
}

func (adderPlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, nil
}

func main() {
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: sdk.DefaultHandshake,
		Plugins:         plugin.PluginSet{"adder": adderPlugin{}},
		GRPCServer:      plugin.DefaultGRPCServer,
	})
}
