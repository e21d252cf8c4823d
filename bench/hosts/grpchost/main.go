// Command grpchost is a hand-written go-plugin host in the style of
// go-plugin's examples/basic for a gRPC plugin: it launches the kv example plugin, calls
// proto.KV/Put through the generated client and exits. -mtls turns on
// go-plugin's AutoMTLS. It is the gRPC baseline of `plugctl call`.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"

	hclog "github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/plugctl/plugctl/internal/handshake"
	kvproto "github.com/plugctl/plugctl/testdata/plugins/kv/proto"
)

type kvPlugin struct{ plugin.Plugin }

func (kvPlugin) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error { return nil }
func (kvPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return kvproto.NewKVClient(c), nil
}

func main() {
	mtls := flag.Bool("mtls", false, "AutoMTLS")
	flag.Parse()
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  plugin.HandshakeConfig{ProtocolVersion: handshake.DefaultProtocolVersion, MagicCookieKey: handshake.DefaultCookieKey, MagicCookieValue: handshake.DefaultCookieValue},
		Plugins:          map[string]plugin.Plugin{"kv": kvPlugin{}},
		Cmd:              exec.Command(flag.Arg(0)),
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           hclog.New(&hclog.LoggerOptions{Name: "plugin", Output: os.Stdout, Level: hclog.Debug}),
		AutoMTLS:         *mtls,
	})
	defer client.Kill()
	rpcClient, err := client.Client()
	if err != nil {
		log.Fatal(err)
	}
	raw, err := rpcClient.Dispense("kv")
	if err != nil {
		log.Fatal(err)
	}
	if _, err := raw.(kvproto.KVClient).Put(context.Background(), &kvproto.PutRequest{Key: "a", Value: "1"}); err != nil {
		log.Fatal(err)
	}
	fmt.Println("{}")
}
