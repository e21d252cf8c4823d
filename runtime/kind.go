package runtime

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// MethodKind is how a method exchanges messages: which sides stream.
type MethodKind string

// The four kinds of gRPC method. Every net/rpc method is Unary.
const (
	Unary           MethodKind = "unary"
	ServerStreaming MethodKind = "server-streaming"
	ClientStreaming MethodKind = "client-streaming"
	Bidirectional   MethodKind = "bidirectional"
)

// StreamsRequests: the caller sends any number of request messages.
func (k MethodKind) StreamsRequests() bool { return k == ClientStreaming || k == Bidirectional }

// StreamsResults: the method answers with any number of messages rather
// than one.
func (k MethodKind) StreamsResults() bool { return k == ServerStreaming || k == Bidirectional }

func kindOf(m protoreflect.MethodDescriptor) MethodKind {
	switch {
	case m.IsStreamingClient() && m.IsStreamingServer():
		return Bidirectional
	case m.IsStreamingClient():
		return ClientStreaming
	case m.IsStreamingServer():
		return ServerStreaming
	}
	return Unary
}

// MethodKind says how method exchanges messages, from the same schema a
// call would use (co's schema options). Its errors are Call's for a name
// that does not resolve: ErrMethodNotFound, ErrAmbiguousMethod,
// ErrNoReflection...
func (p *Plugin) MethodKind(ctx context.Context, method string, co CallOptions) (MethodKind, error) {
	switch p.proto {
	case ProtocolNetRPC:
		return Unary, nil
	case ProtocolGRPC:
		s, err := p.schemaFor(ctx, co, method)
		if err != nil {
			return "", err
		}
		m, err := s.resolve(p.spec.Name, method)
		if err != nil {
			return "", err
		}
		return kindOf(m), nil
	}
	return "", fmt.Errorf("plugin %s: protocol %q: %w", p.spec.Name, p.proto, ErrUnsupported)
}
