// Command rpcplugin is a go-plugin net/rpc plugin, dispensed as "test".
package main

import (
	"errors"
	"fmt"
	"net/rpc"
	"strings"
	"time"

	plugin "github.com/hashicorp/go-plugin"

	"github.com/plugctl/plugctl/runtime/testdata/plugins/testsvc"
)

// Server is what net/rpc serves as "Plugin".
type Server struct{}

func (Server) Upper(arg string, resp *string) error {
	fmt.Println("noise on os.Stdout during the call")
	*resp = strings.ToUpper(arg)
	return nil
}

func (Server) Fail(arg string, resp *string) error { return errors.New("failed: " + arg) }

func (Server) Panic(arg string, resp *string) error {
	go func() { panic("net/rpc plugin asked to panic") }()
	time.Sleep(time.Minute)
	return nil
}

type rpcPlugin struct{}

func (rpcPlugin) Server(*plugin.MuxBroker) (any, error) { return Server{}, nil }
func (rpcPlugin) Client(*plugin.MuxBroker, *rpc.Client) (any, error) {
	return nil, errors.New("host side unused")
}

func main() {
	testsvc.Misbehave()
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: plugin.HandshakeConfig{
			ProtocolVersion:  1,
			MagicCookieKey:   "PLUGCTL_PLUGIN",
			MagicCookieValue: "plugctl",
		},
		Plugins: plugin.PluginSet{"test": rpcPlugin{}},
	})
}
