// Command nomad-driver stands in for a Nomad task driver in plugctl's
// tests: a go-plugin gRPC plugin that serves with the handshake of
// plugctl's nomad profile (read from the profile package, so the two
// cannot differ: cookie NOMAD_PLUGIN_MAGIC_COOKIE, protocol version 2,
// plugin map name "base") and implements the BasePlugin service every
// Nomad plugin serves, from proto/base.proto, a .proto written in the shape
// of Nomad's plugins/base/proto/base.proto. It is not a Nomad driver: it
// runs no tasks and serves none of the driver service (driver.proto).
// Nomad from 1.7 on is not under an open-source licence, and its module
// is too large to build in a test; this stand-in shows that plugctl
// launches and calls a plugin with that handshake and those messages.
//
//	go build -o nomad-driver ./testdata/plugins/nomad-driver
//
// PluginInfo says DRIVER, plugin API version v0.1.0; ConfigSchema returns
// an object of two attributes, enabled (bool) and label (string, default
// "default"); SetConfig decodes msgpack_config (a MessagePack map, as
// Nomad's client sends it) and checks it against that spec, and the API
// version against v0.1.0: anything else is InvalidArgument.
package main

import (
	"context"
	"fmt"
	"sort"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/plugctl/plugctl/profile"
	"github.com/plugctl/plugctl/testdata/plugins/nomad-driver/proto"
)

// version is the plugin's own version (PluginInfo's plugin_version).
var version = "0.1.0"

// apiVersion is the Nomad driver plugin API version it speaks (Nomad's
// drivers.ApiVersion010).
const apiVersion = "v0.1.0"

type driver struct {
	proto.UnimplementedBasePluginServer
}

func (driver) PluginInfo(context.Context, *proto.PluginInfoRequest) (*proto.PluginInfoResponse, error) {
	return &proto.PluginInfoResponse{
		Type:              proto.PluginType_DRIVER,
		PluginApiVersions: []string{apiVersion},
		PluginVersion:     version,
		Name:              "nomad-driver",
	}, nil
}

// attrTypes is the configuration's spec: attribute name → HCL type.
var attrTypes = map[string]string{"enabled": "bool", "label": "string"}

func attr(name string) *proto.Spec {
	return &proto.Spec{Block: &proto.Spec_Attr{Attr: &proto.Attr{Name: name, Type: attrTypes[name]}}}
}

func (driver) ConfigSchema(context.Context, *proto.ConfigSchemaRequest) (*proto.ConfigSchemaResponse, error) {
	label := &proto.Spec{Block: &proto.Spec_Default{Default: &proto.Default{
		Primary: attr("label"),
		Default: &proto.Spec{Block: &proto.Spec_Literal{Literal: &proto.Literal{Value: `"default"`}}},
	}}}
	return &proto.ConfigSchemaResponse{Spec: &proto.Spec{Block: &proto.Spec_Object{Object: &proto.Object{
		Attributes: map[string]*proto.Spec{"enabled": attr("enabled"), "label": label},
	}}}}, nil
}

func (driver) SetConfig(_ context.Context, req *proto.SetConfigRequest) (*proto.SetConfigResponse, error) {
	if v := req.GetPluginApiVersion(); v != "" && v != apiVersion {
		return nil, status.Errorf(codes.InvalidArgument, "plugin API version %q: this driver speaks %s", v, apiVersion)
	}
	if len(req.GetMsgpackConfig()) == 0 {
		return &proto.SetConfigResponse{}, nil
	}
	cfg, err := decodeMap(req.GetMsgpackConfig())
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "msgpack_config: %v", err)
	}
	keys := make([]string, 0, len(cfg))
	for k := range cfg {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		want, ok := attrTypes[k]
		if !ok {
			return nil, status.Errorf(codes.InvalidArgument, "msgpack_config: unknown attribute %q (want enabled, label)", k)
		}
		if got := typeName(cfg[k]); got != want {
			return nil, status.Errorf(codes.InvalidArgument, "msgpack_config: attribute %q is a %s, want %s", k, got, want)
		}
	}
	return &proto.SetConfigResponse{}, nil
}

func typeName(v any) string {
	switch v.(type) {
	case bool:
		return "bool"
	case string:
		return "string"
	case int64:
		return "number"
	}
	return "null"
}

// decodeMap decodes the MessagePack subset a flat configuration needs: one
// map of string keys to nil, bool, string or integer values.
func decodeMap(b []byte) (map[string]any, error) {
	d := &decoder{b: b}
	n, err := d.mapLen()
	if err != nil {
		return nil, err
	}
	m := map[string]any{}
	for range n {
		k, err := d.value()
		if err != nil {
			return nil, err
		}
		ks, ok := k.(string)
		if !ok {
			return nil, fmt.Errorf("a map key is not a string")
		}
		if m[ks], err = d.value(); err != nil {
			return nil, err
		}
	}
	if d.i != len(b) {
		return nil, fmt.Errorf("%d bytes after the map", len(b)-d.i)
	}
	return m, nil
}

type decoder struct {
	b []byte
	i int
}

func (d *decoder) take(n int) ([]byte, error) {
	if d.i+n > len(d.b) {
		return nil, fmt.Errorf("cut short")
	}
	s := d.b[d.i : d.i+n]
	d.i += n
	return s, nil
}

func (d *decoder) uint(size int) (int, error) {
	s, err := d.take(size)
	n := 0
	for _, c := range s {
		n = n<<8 | int(c)
	}
	return n, err
}

func (d *decoder) mapLen() (int, error) {
	t, err := d.uint(1)
	switch {
	case err != nil:
		return 0, err
	case t&0xf0 == 0x80:
		return t & 0x0f, nil
	case t == 0xde:
		return d.uint(2)
	}
	return 0, fmt.Errorf("not a MessagePack map (first byte 0x%02x; Nomad sends the configuration as MessagePack, not JSON)", t)
}

func (d *decoder) value() (any, error) {
	t, err := d.uint(1)
	if err != nil {
		return nil, err
	}
	str := func(n int, err error) (any, error) {
		if err != nil {
			return nil, err
		}
		s, err := d.take(n)
		return string(s), err
	}
	switch {
	case t <= 0x7f:
		return int64(t), nil
	case t&0xe0 == 0xa0:
		return str(t&0x1f, nil)
	case t == 0xd9:
		return str(d.uint(1))
	case t == 0xda:
		return str(d.uint(2))
	case t == 0xc0:
		return nil, nil
	case t == 0xc2, t == 0xc3:
		return t == 0xc3, nil
	}
	return nil, fmt.Errorf("MessagePack type 0x%02x: this driver reads only nil, bool, string and small integers", t)
}

// basePlugin is the go-plugin glue; a Go host dispenses a
// proto.BasePluginClient.
type basePlugin struct{ plugin.NetRPCUnsupportedPlugin }

func (basePlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	proto.RegisterBasePluginServer(s, driver{})
	return nil
}

func (basePlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return proto.NewBasePluginClient(c), nil
}

// handshake is the nomad profile's, as a Nomad plugin's base.Handshake.
func handshake() (plugin.HandshakeConfig, string) {
	p, ok := profile.Lookup(profile.Nomad)
	if !ok || len(p.Protocol.Versions) != 1 {
		panic("nomad-driver: plugctl's nomad profile is missing or offers several protocol versions")
	}
	return plugin.HandshakeConfig{
		ProtocolVersion:  uint(p.Protocol.Versions[0]),
		MagicCookieKey:   p.Protocol.CookieKey,
		MagicCookieValue: p.Protocol.CookieValue,
	}, p.Protocol.Dispense
}

func main() {
	hs, name := handshake()
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: hs,
		Plugins:         plugin.PluginSet{name: basePlugin{}},
		GRPCServer:      plugin.DefaultGRPCServer,
	})
}
