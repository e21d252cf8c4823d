package runtime

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"sync"

	plugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/plugctl/plugctl/store"
)

// A request field that carries one of go-plugin's broker IDs (a callback
// the plugin dials back, like the AddHelper of go-plugin's bidirectional
// example or a Vault backend's storage) may be given as
// {"$broker": "NAME[@VERSION]"}: the installed gRPC plugin it names is
// launched (or attached to when started), every gRPC service it has is
// served on a fresh broker ID of the called plugin's connection by
// forwarding raw gRPC frames (no schema is needed), and the field gets that
// ID. Helper and brokered server live as long as the connection (the
// plugin may keep the callback for later calls).

// ErrBrokerClosed is wrapped (in a *PluginError) when the called plugin's
// gRPC broker is closed: go-plugin closes it for good when any host that
// attached to the plugin with go-plugin's client leaves. Only a restart
// helps.
var ErrBrokerClosed = errors.New("its gRPC broker is closed (another host attached to it with go-plugin and left); restart it")

// BrokerError says that a $broker argument cannot be served: the helper
// is not installed (it wraps store.ErrNotInstalled), speaks net/rpc, or the
// called plugin has no gRPC broker here (net/rpc's MuxBroker is not
// served; a started plugin reached without its keeper).
type BrokerError struct {
	Plugin string // the called plugin
	Helper string // the $broker value, NAME[@VERSION]
	Err    error
}

func (e *BrokerError) Error() string {
	if e.Helper == "" {
		return fmt.Sprintf("$broker for plugin %s: %v", e.Plugin, e.Err)
	}
	return fmt.Sprintf("$broker %q for plugin %s: %v", e.Helper, e.Plugin, e.Err)
}

func (e *BrokerError) Unwrap() error { return e.Err }

// brokerStream is go-plugin's broker stream, which a host opens on every
// gRPC connection it makes through go-plugin's client.
const brokerStream = "/plugin.GRPCBroker/StartStream"

// brokerWatch notices the end of go-plugin's broker stream on a
// connection: the plugin ends it when its broker is closed, and a call
// whose callback can then never be dialed fails at once instead of after
// the plugin's own 5 s wait.
type brokerWatch struct {
	once sync.Once
	gone chan struct{}
}

func newBrokerWatch() *brokerWatch { return &brokerWatch{gone: make(chan struct{})} }

func (w *brokerWatch) end() { w.once.Do(func() { close(w.gone) }) }

func (w *brokerWatch) dialOption() grpc.DialOption {
	return grpc.WithChainStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		cs, err := streamer(ctx, desc, cc, method, opts...)
		if method != brokerStream {
			return cs, err
		}
		if err != nil {
			w.end()
			return cs, err
		}
		return &watchedStream{ClientStream: cs, w: w}, nil
	})
}

type watchedStream struct {
	grpc.ClientStream
	w *brokerWatch
}

func (s *watchedStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if err != nil {
		s.w.end()
	}
	return err
}

// closed reports whether the broker stream has ended.
func (w *brokerWatch) closed() bool {
	select {
	case <-w.gone:
		return true
	default:
		return false
	}
}

// plainGRPC is a gRPC connection to a started plugin without go-plugin's
// client (see attachStarted): no broker stream, no stdio stream. Its
// settings are go-plugin's own (dialGRPCConn): TLS or none, no message size
// limit.
func plainGRPC(addr net.Addr, pre *dialedConn, tlsConf *tls.Config) (*grpc.ClientConn, error) {
	creds := insecure.NewCredentials()
	if tlsConf != nil {
		creds = credentials.NewTLS(tlsConf)
	}
	dial := func(ctx context.Context, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, addr.Network(), addr.String())
	}
	if pre != nil {
		dial = pre.dialer(addr)
	}
	return grpc.NewClient("passthrough:///plugin",
		grpc.WithContextDialer(dial),
		grpc.WithTransportCredentials(creds),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(math.MaxInt32), grpc.MaxCallSendMsgSize(math.MaxInt32)))
}

// hasBrokerRef tells cheaply whether args may hold a $broker.
func hasBrokerRef(args []byte) bool { return bytes.Contains(args, []byte(`"$broker"`)) }

// brokerRef returns the helper a JSON value names when it is exactly
// {"$broker": "NAME[@VERSION]"}.
func brokerRef(v any) (string, bool) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return "", false
	}
	ref, ok := m["$broker"].(string)
	return ref, ok
}

// substituteBrokers replaces every {"$broker": REF} in args by the broker
// ID on which REF's services are served for this call's plugin.
func (p *Plugin) substituteBrokers(ctx context.Context, args []byte) ([]byte, error) {
	return walkBrokerRefs(args, func(ref string) (uint32, error) { return p.serveHelper(ctx, ref) })
}

// walkBrokerRefs replaces every {"$broker": REF} in the JSON document args,
// at any depth, by the ID serve returns for it; numbers keep their digits.
func walkBrokerRefs(args []byte, serve func(ref string) (uint32, error)) ([]byte, error) {
	var doc any
	dec := json.NewDecoder(bytes.NewReader(args))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, &ArgError{Err: err}
	}
	var walk func(v any) (any, error)
	walk = func(v any) (any, error) {
		if ref, ok := brokerRef(v); ok {
			id, err := serve(ref)
			if err != nil {
				return nil, err
			}
			return json.Number(fmt.Sprint(id)), nil
		}
		switch t := v.(type) {
		case map[string]any:
			for k, e := range t {
				n, err := walk(e)
				if err != nil {
					return nil, err
				}
				t[k] = n
			}
		case []any:
			for i, e := range t {
				n, err := walk(e)
				if err != nil {
					return nil, err
				}
				t[i] = n
			}
		}
		return v, nil
	}
	doc, err := walk(doc)
	if err != nil {
		return nil, err
	}
	return json.Marshal(doc)
}

// grpcBroker is go-plugin's broker of this connection (dispensing the
// placeholder yields it), or a *BrokerError when there is none.
func (p *Plugin) grpcBroker() (*plugin.GRPCBroker, error) {
	if p.client == nil || p.bw == nil {
		return nil, &BrokerError{Plugin: p.spec.Name, Err: fmt.Errorf("%w: it is started and was reached without its keeper, the only host that may open its broker (if the keeper died, so did the broker: restart the plugin)", ErrUnsupported)}
	}
	if p.bw.closed() {
		return nil, p.brokerClosed()
	}
	gc, err := p.grpcClient()
	if err != nil {
		return nil, err
	}
	v, err := gc.Dispense(p.spec.Protocol.Dispense)
	if err != nil {
		return nil, fmt.Errorf("plugin %s: broker: %w", p.spec.Name, err)
	}
	b, ok := v.(*plugin.GRPCBroker)
	if !ok || b == nil {
		return nil, fmt.Errorf("plugin %s: broker: unexpected %T", p.spec.Name, v)
	}
	return b, nil
}

func (p *Plugin) brokerClosed() error {
	return &PluginError{Name: p.spec.Name, Op: OpCall, Err: ErrBrokerClosed}
}

// serveHelper serves the services of the helper plugin ref on a fresh
// broker ID of p's connection and returns the ID.
func (p *Plugin) serveHelper(ctx context.Context, ref string) (uint32, error) {
	b, err := p.grpcBroker()
	if err != nil {
		var be *BrokerError
		if errors.As(err, &be) {
			be.Helper = ref
		}
		return 0, err
	}
	h, err := p.helper(ctx, ref)
	if err != nil {
		return 0, err
	}
	id := b.NextId()
	// Accept, unlike AcceptAndServe, says when the broker is gone.
	ln, err := b.Accept(id)
	if err != nil {
		if p.bw.closed() {
			return 0, p.brokerClosed()
		}
		return 0, &PluginError{Name: p.spec.Name, Op: OpCall, Err: fmt.Errorf("broker: %w", err)}
	}
	opts := []grpc.ServerOption{
		grpc.UnknownServiceHandler(forwardTo(h.conn)),
		grpc.ForceServerCodec(rawCodec{}),
	}
	if p.tls != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(p.tls)))
	}
	srv := grpc.NewServer(opts...)
	p.brokerMu.Lock()
	p.brokered = append(p.brokered, srv)
	p.brokerMu.Unlock()
	go func() { _ = srv.Serve(ln) }()
	return id, nil
}

// helper launches the helper plugin ref, or attaches to it when it is
// started, once per installed version and connection.
func (p *Plugin) helper(ctx context.Context, ref string) (*Plugin, error) {
	home := p.opt.Home
	if home.Home == "" {
		return nil, &BrokerError{Plugin: p.spec.Name, Helper: ref, Err: errors.New("no plugctl home to find the helper in")}
	}
	r, err := home.ReadRef(ref)
	if err != nil {
		return nil, &BrokerError{Plugin: p.spec.Name, Helper: ref, Err: err}
	}
	key := r.Name + "@" + r.Version
	p.brokerMu.Lock()
	defer p.brokerMu.Unlock()
	if h, ok := p.helpers[key]; ok {
		return h, nil
	}
	if r.Protocol.Kind == store.KindNetRPC {
		return nil, &BrokerError{Plugin: p.spec.Name, Helper: ref, Err: fmt.Errorf("%s speaks net/rpc: %w (a helper must be a gRPC plugin)", r.Name, ErrUnsupported)}
	}
	h, ok, err := AttachReceipt(ctx, home, r, p.opt)
	if err != nil || !ok {
		// It lives as long as p's connection, not as long as ctx.
		lctx, cancel := context.WithCancel(context.Background())
		stop := context.AfterFunc(ctx, cancel)
		h, err = Launch(lctx, SpecFromReceipt(home, r), p.opt)
		if !stop() && err == nil {
			_ = h.Close()
			err = ctx.Err()
		}
		if err != nil {
			cancel()
			return nil, err
		}
	}
	if h.conn == nil {
		_ = h.Close()
		return nil, &BrokerError{Plugin: p.spec.Name, Helper: ref, Err: fmt.Errorf("%s speaks %s: %w (a helper must be a gRPC plugin)", r.Name, h.proto, ErrUnsupported)}
	}
	if p.helpers == nil {
		p.helpers = map[string]*Plugin{}
	}
	p.helpers[key] = h
	return h, nil
}

// endBrokered stops what $broker arguments started on p's connection.
func (p *Plugin) endBrokered() {
	p.brokerMu.Lock()
	srvs, helpers := p.brokered, p.helpers
	p.brokered, p.helpers = nil, nil
	p.brokerMu.Unlock()
	for _, s := range srvs {
		s.Stop()
	}
	for _, h := range helpers {
		_ = h.Close()
	}
}

// rawCodec passes gRPC frames through as they are.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) {
	b, ok := v.(*[]byte)
	if !ok {
		return nil, fmt.Errorf("raw codec: cannot marshal %T", v)
	}
	return *b, nil
}

func (rawCodec) Unmarshal(data []byte, v any) error {
	b, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("raw codec: cannot unmarshal into %T", v)
	}
	*b = append((*b)[:0], data...)
	return nil
}

func (rawCodec) Name() string { return "proto" }

// forwardTo is a gRPC handler for any method that relays the call, frames
// and metadata as they are, to the same method on conn.
func forwardTo(conn *grpc.ClientConn) grpc.StreamHandler {
	return func(_ any, ss grpc.ServerStream) error {
		method, _ := grpc.MethodFromServerStream(ss)
		ctx, cancel := context.WithCancel(ss.Context())
		defer cancel()
		if md, ok := metadata.FromIncomingContext(ctx); ok {
			ctx = metadata.NewOutgoingContext(ctx, md.Copy())
		}
		cs, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, method, grpc.ForceCodec(rawCodec{}))
		if err != nil {
			return err
		}
		go func() {
			for {
				var b []byte
				if err := ss.RecvMsg(&b); err != nil {
					if errors.Is(err, io.EOF) {
						_ = cs.CloseSend()
					} else {
						cancel()
					}
					return
				}
				if err := cs.SendMsg(&b); err != nil {
					return
				}
			}
		}()
		first := true
		for {
			var b []byte
			if err := cs.RecvMsg(&b); err != nil {
				ss.SetTrailer(cs.Trailer())
				if errors.Is(err, io.EOF) {
					return nil
				}
				return err
			}
			if first {
				if h, err := cs.Header(); err == nil {
					_ = ss.SendHeader(h)
				}
				first = false
			}
			if err := ss.SendMsg(&b); err != nil {
				return err
			}
		}
	}
}

// namesBroker reports whether the JSON document args holds a
// {"$broker": ...} anywhere.
func namesBroker(args []byte) bool {
	var doc any
	if json.Unmarshal(args, &doc) != nil {
		return false
	}
	var walk func(v any) bool
	walk = func(v any) bool {
		if _, ok := brokerRef(v); ok {
			return true
		}
		switch t := v.(type) {
		case map[string]any:
			for _, e := range t {
				if walk(e) {
					return true
				}
			}
		case []any:
			for _, e := range t {
				if walk(e) {
					return true
				}
			}
		}
		return false
	}
	return walk(doc)
}
