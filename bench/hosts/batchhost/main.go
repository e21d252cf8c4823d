// Command batchhost is the baseline of plugctl's batch mode: a hand-written
// go-plugin host, like go-plugin's examples/basic host (seedhost), that
// launches the plugin once and calls Greet -n times over that one
// connection, printing each answer on its own line (as call --batch prints
// one line per request). The plugin's path is the first argument.
package main

import (
	"bufio"
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
	n := flag.Int("n", 1000, "calls to make")
	flag.Parse()
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig: plugin.HandshakeConfig{
			ProtocolVersion:  1,
			MagicCookieKey:   "BASIC_PLUGIN",
			MagicCookieValue: "hello",
		},
		Plugins: map[string]plugin.Plugin{"greeter": &shared.GreeterPlugin{}},
		Cmd:     exec.Command(flag.Arg(0)),
		Logger:  hclog.New(&hclog.LoggerOptions{Name: "plugin", Output: os.Stderr, Level: hclog.Error}),
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
	w := bufio.NewWriter(os.Stdout)
	for i := 0; i < *n; i++ {
		fmt.Fprintf(w, "%d %s\n", i, greeter.Greet())
		// As call --batch does: each answer out as soon as it is known.
		if err := w.Flush(); err != nil {
			log.Fatal(err)
		}
	}
}
