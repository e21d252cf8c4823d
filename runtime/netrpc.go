package runtime

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"google.golang.org/grpc/codes"

	"github.com/plugctl/plugctl/runtime/internal/rpcwire"
)

// netrpcConn is what calling a net/rpc plugin needs from rpcwire (generic
// net/rpc over go-plugin's yamux session, arguments and results as JSON
// through gob).
type netrpcConn interface {
	Call(ctx context.Context, dispense, method string, args []byte) ([]byte, error)
	Ping(ctx context.Context) error
	Quit(ctx context.Context) error
	Close() error
}

// newNetRPC starts the net/rpc session on an established connection; what
// the plugin prints on its synced stdout and stderr goes to stdio.
func newNetRPC(conn net.Conn, stdio io.Writer) (netrpcConn, error) {
	return rpcwire.NewWithOptions(conn, rpcwire.Options{Stdout: stdio, Stderr: stdio})
}

// connectNetRPC starts the session on conn, or on a connection to addr
// when conn is nil.
func (p *Plugin) connectNetRPC(ctx context.Context, addr net.Addr, conn net.Conn, tlsConf *tls.Config, stdio io.Writer) error {
	if conn == nil {
		var d net.Dialer
		c, err := d.DialContext(ctx, addr.Network(), addr.String())
		if err != nil {
			return fmt.Errorf("connect: %w", err)
		}
		conn = c
	}
	if tlsConf != nil {
		conn = tls.Client(conn, tlsConf)
	}
	c, err := newNetRPC(conn, stdio)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	p.rpc = c
	return nil
}

// callNetRPC calls Plugin.<method> on the dispensed plugin (protocol
// dispense). The method may be given as "Upper" or "Plugin.Upper".
func (p *Plugin) callNetRPC(ctx context.Context, method string, args []byte, co CallOptions, emit func([]byte) error) error {
	if p.rpc == nil {
		return fmt.Errorf("plugin %s: not connected: %w", p.spec.Name, ErrUnsupported)
	}
	method = strings.TrimPrefix(method, "Plugin.")
	full := "Plugin." + method
	args, err := co.oneRequest(full, args)
	if err != nil {
		return err
	}
	out, err := p.rpc.Call(ctx, p.spec.Protocol.Dispense, method, args)
	if err != nil {
		return p.netrpcError(ctx, full, err)
	}
	return emit(out)
}

func (p *Plugin) netrpcError(ctx context.Context, method string, err error) error {
	var me *rpcwire.MethodError
	var ae *rpcwire.ArgError
	switch {
	case ctx.Err() != nil:
		return p.callFailure(ctx, method, err)
	case errors.Is(err, rpcwire.ErrUnknownMethod):
		return &NotFoundError{Plugin: p.spec.Name, Method: method, Detail: strings.TrimPrefix(err.Error(), rpcwire.ErrUnknownMethod.Error()+": ")}
	case errors.Is(err, rpcwire.ErrUnknownPlugin):
		return &NotFoundError{Plugin: p.spec.Name, Method: method, Detail: fmt.Sprintf("it dispenses no %q (protocol.dispense in the index)", p.spec.Protocol.Dispense)}
	case errors.As(err, &ae):
		return &ArgError{Err: &withSentinel{err, ErrGobType}}
	case errors.As(err, &me):
		return &MethodError{Method: method, Code: codes.Unknown, Message: me.Message}
	}
	// Connection lost, closed, or a broken stream: the plugin's fault.
	return p.callFailure(ctx, method, err)
}
