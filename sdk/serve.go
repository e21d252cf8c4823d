package sdk

import (
	"context"
	"fmt"
	"os"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/plugctl/plugctl/internal/handshake"
)

// DefaultHandshake is plugctl's default go-plugin handshake; plugctl uses it
// for every plugin whose index entry does not say otherwise (the values are
// the ones a receipt's protocol defaults to, from one definition, so host
// and plugin cannot drift apart).
var DefaultHandshake = plugin.HandshakeConfig{
	ProtocolVersion:  handshake.DefaultProtocolVersion,
	MagicCookieKey:   handshake.DefaultCookieKey,
	MagicCookieValue: handshake.DefaultCookieValue,
}

// ServeConfig adjusts how Serve presents a value. The zero value is what
// Serve uses.
type ServeConfig struct {
	// Name is the plugin's name: the key in go-plugin's plugin map (what a
	// Go host dispenses) and the service's name, plugctl.sdk.<name>.<Name>.
	// Default: the Go type name of the served value, lower-cased.
	Name string

	// Handshake overrides fields of DefaultHandshake; zero fields keep the
	// default.
	Handshake plugin.HandshakeConfig

	// Logger is go-plugin's logger; default: go-plugin's (JSON on stderr,
	// which the host reads and forwards).
	Logger hclog.Logger
}

// Serve serves impl's exported methods as a go-plugin gRPC plugin with
// DefaultHandshake and never returns. See the package documentation for the
// accepted method shapes and the type mapping. If impl cannot be served,
// Serve prints why on stderr and exits with status 1.
func Serve(impl any) {
	ServeConfig{}.Serve(impl)
}

// Serve is the package-level Serve with c's settings.
func (c ServeConfig) Serve(impl any) {
	p, name, err := c.plugin(impl)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: c.handshake(),
		Plugins:         plugin.PluginSet{name: p},
		GRPCServer:      plugin.DefaultGRPCServer,
		Logger:          c.Logger,
	})
}

// Check reports whether impl can be served, with the reason when it cannot.
// A plugin's own tests can call it to catch an unsupported method early.
func (c ServeConfig) Check(impl any) error {
	_, _, err := c.plugin(impl)
	return err
}

// Plugin returns impl as a go-plugin GRPCPlugin and its name in the plugin
// map, for a program that calls plugin.Serve itself (to serve it next to
// other plugins, or with its own options). Its GRPCClient returns the
// *grpc.ClientConn.
func (c ServeConfig) Plugin(impl any) (plugin.GRPCPlugin, string, error) {
	p, name, err := c.plugin(impl)
	if err != nil {
		return nil, "", err
	}
	return p, name, nil
}

func (c ServeConfig) plugin(impl any) (*grpcPlugin, string, error) {
	s, err := newService(impl, c.Name)
	if err != nil {
		return nil, "", err
	}
	return &grpcPlugin{svc: s}, s.name, nil
}

func (c ServeConfig) handshake() plugin.HandshakeConfig {
	h := DefaultHandshake
	if c.Handshake.ProtocolVersion != 0 {
		h.ProtocolVersion = c.Handshake.ProtocolVersion
	}
	if c.Handshake.MagicCookieKey != "" {
		h.MagicCookieKey = c.Handshake.MagicCookieKey
	}
	if c.Handshake.MagicCookieValue != "" {
		h.MagicCookieValue = c.Handshake.MagicCookieValue
	}
	return h
}

// grpcPlugin registers the generated service on go-plugin's gRPC server.
type grpcPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	svc *service
}

func (p *grpcPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	s.RegisterService(&p.svc.desc, p.svc.impl)
	return nil
}

func (p *grpcPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, conn *grpc.ClientConn) (any, error) {
	return conn, nil
}
