package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// CallOptions are per-call settings of a gRPC call.
type CallOptions struct {
	// Metadata is sent with the call as gRPC metadata (headers): a key
	// of [a-z0-9-_.] (upper case is folded), not starting with "grpc-",
	// and its values. A metadata.MD, or a map literal:
	// metadata.MD{"x-token": {"abc"}}. net/rpc calls ignore it.
	Metadata metadata.MD
	// ProtoFiles are .proto files compiled at run time for the schema,
	// resolved against ImportPaths; with no import paths, each file's
	// directory is one.
	ProtoFiles  []string
	ImportPaths []string
	// Protoset is a FileDescriptorSet file for the schema.
	Protoset string
	// Requests, when set (and args empty), supplies the request messages
	// instead of args: all of them, sent as they come, for a client- or
	// bidirectional-streaming method; exactly one (or none: an empty
	// request) for the other kinds. See Requests.
	Requests Requests
	// Decode prints bytes that hold JSON as JSON, and a Terraform
	// DynamicValue's msgpack as JSON (--decode); nil: as the plugin's
	// profile says (on for terraform and grafana). For reading only.
	Decode *bool
}

// crashGrace is how long a failed call waits for the plugin's exit, so that
// a crash is reported as one, with its panic line.
const crashGrace = time.Second

// Call calls method with args, a JSON document (empty means an empty
// request), and hands each result to emit as one compact JSON document:
// once for a unary or client-streaming method, once per message, as it
// arrives, for a server-streaming or bidirectional one. An error from emit
// ends the call and is returned as is.
//
// A client- or bidirectional-streaming method takes its request messages
// from co.Requests, or else from args as a JSON array of messages (empty:
// none); the send side is closed after the last one.
//
// gRPC methods are named "Get" (when only one of the plugin's own services
// has it), "KV/Get", "proto.KV/Get" or "proto.KV.Get". Results use
// protojson's standard mapping (lowerCamelCase names, 64-bit integers as
// strings, enums by name, unpopulated fields left out), compacted to one
// line.
//
// Errors: ErrMethodNotFound (a *NotFoundError), ErrAmbiguousMethod,
// *ArgError, *MethodError, *PluginError, ErrUnsupported, ErrNoReflection.
func (p *Plugin) Call(ctx context.Context, method string, args []byte, co CallOptions, emit func(json []byte) error) error {
	switch p.proto {
	case ProtocolGRPC:
		return p.callGRPC(ctx, method, args, co, emit)
	case ProtocolNetRPC:
		if hasBrokerRef(args) && namesBroker(args) {
			return &BrokerError{Plugin: p.spec.Name, Err: fmt.Errorf("%w: it speaks net/rpc, and plugctl serves only gRPC's broker (not net/rpc's MuxBroker)", ErrUnsupported)}
		}
		return p.callNetRPC(ctx, method, args, co, emit)
	}
	return fmt.Errorf("plugin %s: protocol %q: %w", p.spec.Name, p.proto, ErrUnsupported)
}

func (p *Plugin) callGRPC(ctx context.Context, method string, args []byte, co CallOptions, emit func([]byte) error) (err error) {
	md, err := checkMetadata(co.Metadata)
	if err == nil {
		md = underProtocolMetadata(p.spec.Protocol.Metadata, md)
	}
	if err != nil {
		return err
	}
	s, err := p.schemaFor(ctx, co, method)
	if err != nil {
		return err
	}
	m, err := s.resolve(p.spec.Name, method)
	if err != nil {
		return err
	}
	full := string(m.Parent().FullName()) + "/" + string(m.Name())
	if md != nil {
		ctx = metadata.NewOutgoingContext(ctx, md)
	}
	if m.IsStreamingClient() {
		return p.callClientStreaming(ctx, m, s, args, co, emit)
	}
	if args, err = co.oneRequest(full, args); err != nil {
		return err
	}
	if hasBrokerRef(args) {
		if args, err = p.substituteBrokers(ctx, args); err != nil {
			return err
		}
		// The plugin dials the callback back through its broker: if that
		// is closed the call would wait for the plugin's own timeout.
		bctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go func() {
			select {
			case <-p.bw.gone:
				cancel()
			case <-bctx.Done():
			}
		}()
		ctx = bctx
		defer func() {
			if err != nil && p.bw.closed() {
				err = p.brokerClosed()
			}
		}()
	}
	req := dynamicpb.NewMessage(m.Input())
	args = p.profileArgs(args, m.Input())
	if len(bytes.TrimSpace(args)) > 0 {
		uo := protojson.UnmarshalOptions{Resolver: s.types}
		if err := uo.Unmarshal(args, req); err != nil {
			return &ArgError{Method: full, Type: string(m.Input().FullName()), Err: err}
		}
	}
	path := "/" + full
	if !m.IsStreamingServer() {
		resp := dynamicpb.NewMessage(m.Output())
		if err := p.conn.Invoke(ctx, path, req, resp); err != nil {
			return p.grpcError(ctx, full, err)
		}
		out, err := marshalJSON(resp, s)
		if err != nil {
			return err
		}
		if err := emit(p.readableResult(out, m.Output(), co)); err != nil {
			return err
		}
		return p.resultError(full, out)
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := p.conn.NewStream(sctx, &grpc.StreamDesc{ServerStreams: true}, path)
	if err != nil {
		return p.grpcError(ctx, full, err)
	}
	if err := st.SendMsg(req); err != nil && !errors.Is(err, io.EOF) {
		return p.grpcError(ctx, full, err)
	}
	if err := st.CloseSend(); err != nil {
		return p.grpcError(ctx, full, err)
	}
	for {
		resp := dynamicpb.NewMessage(m.Output())
		err := st.RecvMsg(resp)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return p.grpcError(ctx, full, err)
		}
		out, err := marshalJSON(resp, s)
		if err != nil {
			return err
		}
		if err := emit(p.readableResult(out, m.Output(), co)); err != nil {
			return err
		}
	}
}

// marshalJSON renders a message with protojson's standard mapping,
// compacted: protojson varies its whitespace on purpose, scripts want one
// stable line.
func marshalJSON(m proto.Message, s *schema) ([]byte, error) {
	b, err := protojson.MarshalOptions{Resolver: s.types}.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("render %s as JSON: %w", m.ProtoReflect().Descriptor().FullName(), err)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// grpcError maps a gRPC status to this package's errors.
func (p *Plugin) grpcError(ctx context.Context, method string, err error) error {
	st := status.Convert(err)
	switch st.Code() {
	case codes.Unimplemented:
		return &NotFoundError{Plugin: p.spec.Name, Method: method, Detail: st.Message()}
	case codes.Unavailable, codes.DeadlineExceeded:
		return p.callFailure(ctx, method, err)
	case codes.Canceled:
		if ctx.Err() != nil {
			return p.callFailure(ctx, method, err)
		}
	}
	return &MethodError{Method: method, Code: st.Code(), Message: st.Message()}
}

// callFailure reports a call that failed because of the plugin process (or
// the deadline), waiting briefly for a crashing plugin to exit so its exit
// status and panic line are known.
func (p *Plugin) callFailure(ctx context.Context, method string, err error) error {
	pe := &PluginError{Name: p.spec.Name, Op: OpCall}
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || status.Code(err) == codes.DeadlineExceeded:
		pe.Err = fmt.Errorf("timed out calling %s: %w", method, context.DeadlineExceeded)
	case ctx.Err() != nil:
		pe.Err = fmt.Errorf("calling %s: %w", method, ctx.Err())
	default:
		if exited := p.exited(); exited != nil {
			t := time.NewTimer(crashGrace)
			select {
			case <-exited:
			case <-t.C:
			case <-ctx.Done():
			}
			t.Stop()
		}
		if st, ok := p.exitStatus(); ok {
			pe.Err = fmt.Errorf("crashed during %s (%s)", method, st)
		} else {
			pe.Err = fmt.Errorf("unreachable during %s: %s", method, status.Convert(err).Message())
		}
	}
	pe.Panic = p.stderr.panicLine()
	return pe
}

// checkMetadata checks the keys of md and returns it with them in lower
// case, as gRPC sends them.
func checkMetadata(md metadata.MD) (metadata.MD, error) {
	if len(md) == 0 {
		return nil, nil
	}
	out := make(metadata.MD, len(md))
	for k, vs := range md {
		lk := strings.ToLower(k)
		if lk == "" || !validHeaderKey(lk) {
			return nil, &ArgError{Err: fmt.Errorf("%w %q: want [a-z0-9-_.]", ErrBadMetadata, k)}
		}
		if strings.HasPrefix(lk, "grpc-") {
			return nil, &ArgError{Err: fmt.Errorf("%w %q: keys starting with grpc- are reserved", ErrBadMetadata, k)}
		}
		out[lk] = append(out[lk], vs...)
	}
	return out, nil
}

// underProtocolMetadata adds the metadata that the plugin's protocol gives
// every call (the index's protocol.metadata, "key: value", checked when the
// index was read) to md, for the keys md does not set itself.
func underProtocolMetadata(base []string, md metadata.MD) metadata.MD {
	if len(base) == 0 {
		return md
	}
	out := metadata.MD{}
	for _, s := range base {
		k, v, _ := strings.Cut(s, ":")
		k = strings.ToLower(strings.TrimSpace(k))
		if _, ok := md[k]; !ok {
			out.Append(k, strings.TrimSpace(v))
		}
	}
	return metadata.Join(out, md)
}

func validHeaderKey(k string) bool {
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// NotFoundError says that a plugin has no such method or service. It wraps
// ErrMethodNotFound (exit code 3).
type NotFoundError struct {
	Plugin      string
	Method      string   // as asked for
	Suggestions []string // close matches, full names
	// Methods are the methods the plugin has, full names, when none is
	// close enough to suggest.
	Methods []string
	Detail  string // the plugin's own message (gRPC Unimplemented)
}

func (e *NotFoundError) Error() string {
	msg := fmt.Sprintf("plugin %s has no method %s", e.Plugin, e.Method)
	if e.Detail != "" {
		msg += " (" + e.Detail + ")"
	}
	switch {
	case len(e.Suggestions) > 0:
		msg += "; did you mean " + strings.Join(e.Suggestions, ", ") + "?"
	case len(e.Methods) > maxListedMethods:
		msg += "; its methods: " + strings.Join(e.Methods[:maxListedMethods], ", ") + fmt.Sprintf(" and %d more", len(e.Methods)-maxListedMethods)
	case len(e.Methods) > 0:
		msg += "; its methods: " + strings.Join(e.Methods, ", ")
	}
	return msg
}

func (e *NotFoundError) Unwrap() error { return ErrMethodNotFound }

// splitMethod splits "pkg.Svc/M", "/pkg.Svc/M", "pkg.Svc.M" or "M" into
// service and method.
func splitMethod(name string) (svc, method string) {
	name = strings.TrimPrefix(name, "/")
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		return name[:i], name[i+1:]
	}
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		return name[:i], name[i+1:]
	}
	return "", name
}

// resolve finds the method a name means.
func (s *schema) resolve(plugin, name string) (protoreflect.MethodDescriptor, error) {
	svc, meth := splitMethod(name)
	if meth == "" {
		return nil, &ArgError{Err: fmt.Errorf("method name %q is empty", name)}
	}
	var found []protoreflect.MethodDescriptor
	for _, sd := range s.services {
		full := string(sd.FullName())
		switch {
		case svc == "" && internalServices[full]:
			continue
		case svc != "" && full != svc && !strings.HasSuffix(full, "."+svc):
			continue
		}
		if m := sd.Methods().ByName(protoreflect.Name(meth)); m != nil {
			found = append(found, m)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		nf := &NotFoundError{Plugin: plugin, Method: name, Suggestions: s.suggest(svc, meth)}
		if len(nf.Suggestions) == 0 {
			nf.Methods = s.methodNames()
		}
		return nil, nf
	}
	names := make([]string, len(found))
	for i, m := range found {
		names[i] = string(m.Parent().FullName()) + "/" + string(m.Name())
	}
	return nil, fmt.Errorf("%w: %q is a method of %s; give the full name", ErrAmbiguousMethod, name, strings.Join(names, " and "))
}

// maxListedMethods bounds the methods a NotFoundError lists.
const maxListedMethods = 20

// methodNames lists the methods of s, SERVICE/METHOD, go-plugin's and
// gRPC's own services left out.
func (s *schema) methodNames() []string {
	var out []string
	for _, sd := range s.services {
		if internalServices[string(sd.FullName())] {
			continue
		}
		for i := 0; i < sd.Methods().Len(); i++ {
			out = append(out, string(sd.FullName())+"/"+string(sd.Methods().Get(i).Name()))
		}
	}
	return out
}

// KnownMethods lists what a call may name as METHOD of spec's plugin as far
// as it is known without launching it: from its protoset, else from the
// reflection cache an earlier call or describe left (Spec.ReflectionCache).
// Each method comes as SERVICE/METHOD, and alone where no other service
// has a method of that name. Nil when nothing is known (shell completion
// then offers nothing rather than start a plugin).
func KnownMethods(spec Spec) []string {
	var s *schema
	if spec.Protoset != "" {
		s, _ = readProtoset(spec.Protoset, spec.ProtosetSHA256)
	} else if spec.ReflectionCache != "" {
		s = readReflectionCache(spec.ReflectionCache, spec.SHA256)
	}
	if s == nil {
		return nil
	}
	full := s.methodNames()
	count := map[string]int{}
	for _, f := range full {
		_, m := splitMethod(f)
		count[m]++
	}
	var out []string
	for _, f := range full {
		if _, m := splitMethod(f); count[m] == 1 {
			out = append(out, m)
		}
	}
	return append(out, full...)
}

// suggest lists up to five methods whose name is close to meth.
func (s *schema) suggest(svc, meth string) []string {
	type cand struct {
		name string
		d    int
	}
	var cs []cand
	lm := strings.ToLower(meth)
	for _, sd := range s.services {
		if internalServices[string(sd.FullName())] {
			continue
		}
		for i := 0; i < sd.Methods().Len(); i++ {
			m := sd.Methods().Get(i)
			ln := strings.ToLower(string(m.Name()))
			d := levenshtein(lm, ln)
			if d <= max(2, len(lm)/3) || strings.Contains(ln, lm) || strings.Contains(lm, ln) {
				cs = append(cs, cand{string(sd.FullName()) + "/" + string(m.Name()), d})
			}
		}
	}
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].d < cs[j].d })
	var out []string
	for i := 0; i < len(cs) && i < 5; i++ {
		out = append(out, cs[i].name)
	}
	return out
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
