// Copyright IBM Corp. 2016, 2025
// SPDX-License-Identifier: MPL-2.0

// Command kv-netrpc is go-plugin's examples/grpc/plugin-go-netrpc: a KV
// store over net/rpc (plugin name "kv") that keeps each key in a file
// kv_<key> in its working directory. The shared code is copied beside it.
package main

import (
	"fmt"
	"net/rpc"
	"os"

	"github.com/hashicorp/go-plugin"
)

// Handshake is a common handshake that is shared by plugin and host.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  1,
	MagicCookieKey:   "BASIC_PLUGIN",
	MagicCookieValue: "hello",
}

// KV is the interface that we're exposing as a plugin.
type KVStore interface {
	Put(key string, value []byte) error
	Get(key string) ([]byte, error)
}

// KVPlugin is the implementation of plugin.Plugin so we can serve/consume this.
type KVPlugin struct {
	Impl KVStore
}

func (p *KVPlugin) Server(*plugin.MuxBroker) (interface{}, error) {
	return &RPCServer{Impl: p.Impl}, nil
}

func (*KVPlugin) Client(b *plugin.MuxBroker, c *rpc.Client) (interface{}, error) {
	return &RPCClient{client: c}, nil
}

// Here is a real implementation of KV that writes to a local file with
// the key name and the contents are the value of the key.
type KV struct{}

func (KV) Put(key string, value []byte) error {
	value = []byte(fmt.Sprintf("%s\n\nWritten from plugin-go-netrpc", string(value)))
	return os.WriteFile("kv_"+key, value, 0644)
}

func (KV) Get(key string) ([]byte, error) {
	return os.ReadFile("kv_" + key)
}

func main() {
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: Handshake,
		Plugins: map[string]plugin.Plugin{
			"kv": &KVPlugin{Impl: &KV{}},
		},
	})
}
