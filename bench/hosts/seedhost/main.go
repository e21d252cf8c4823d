// Command seedhost is the host program of go-plugin's examples/basic
// (examples/basic/main.go), the one a go-plugin user starts from, unchanged but for the plugin's path, taken from
// the first argument, and -mtls, which turns on go-plugin's AutoMTLS. It is
// the baseline that `plugctl call` is measured against.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"

	hclog "github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/hashicorp/go-plugin/examples/basic/shared"
)

func main() {
	mtls := flag.Bool("mtls", false, "AutoMTLS")
	flag.Parse()
	logger := hclog.New(&hclog.LoggerOptions{
		Name:   "plugin",
		Output: os.Stdout,
		Level:  hclog.Debug,
	})

	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig: handshakeConfig,
		Plugins:         pluginMap,
		Cmd:             exec.Command(flag.Arg(0)),
		Logger:          logger,
		AutoMTLS:        *mtls,
	})
	defer client.Kill()

	rpcClient, err := client.Client()
	if err != nil {
		log.Fatal(err)
	}
	raw, err := rpcClient.Dispense("greeter")
	if err != nil {
		log.Fatal(err)
	}
	greeter := raw.(shared.Greeter)
	fmt.Println(greeter.Greet())
}

var handshakeConfig = plugin.HandshakeConfig{
	ProtocolVersion:  1,
	MagicCookieKey:   "BASIC_PLUGIN",
	MagicCookieValue: "hello",
}

var pluginMap = map[string]plugin.Plugin{
	"greeter": &shared.GreeterPlugin{},
}
