package sdk

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// PackagePrefix starts the protobuf package of every SDK plugin's service:
// a plugin named "greeter" serves plugctl.sdk.greeter.Greeter from the file
// plugctl/sdk/greeter.proto.
const PackagePrefix = "plugctl.sdk"

// service is impl's exported methods as a gRPC service.
type service struct {
	impl    any
	name    string // plugin name, as given or derived
	file    protoreflect.FileDescriptor
	desc    grpc.ServiceDesc
	methods []*method
}

// ServiceName returns the full gRPC service name a plugin named name serves,
// e.g. "plugctl.sdk.greeter.Greeter".
func ServiceName(name string) string {
	return PackagePrefix + "." + packageName(name) + "." + camel(name)
}

func packageName(name string) string {
	return strings.ToLower(sanitizeIdent(name))
}

// defaultName is the plugin name used when ServeConfig.Name is empty: the
// Go type name of impl, lower-cased.
func defaultName(impl any) string {
	t := reflect.TypeOf(impl)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Name() == "" {
		return "plugin"
	}
	return strings.ToLower(t.Name())
}

// newService inspects impl and builds its schema and gRPC service. Every
// exported method must have a supported shape; the error lists those that
// do not.
func newService(impl any, name string) (*service, error) {
	if impl == nil {
		return nil, errors.New("sdk: nil implementation")
	}
	if name == "" {
		name = defaultName(impl)
	}
	pkg := PackagePrefix + "." + packageName(name)
	svcName := camel(name)
	b := newBuilder(pkg, "plugctl/sdk/"+packageName(name)+".proto")
	b.used[svcName] = true

	v := reflect.ValueOf(impl)
	t := v.Type()
	var problems []string
	var methods []*method
	sd := &descriptorpb.ServiceDescriptorProto{Name: proto.String(svcName)}
	for i := range t.NumMethod() {
		mt := t.Method(i)
		if !mt.IsExported() {
			continue
		}
		m, err := inspect(mt.Name, v.Method(i))
		if err == nil {
			var in, out string
			in, err = b.topLevel(m.arg, m.name+"Request")
			if err == nil {
				out, err = b.topLevel(m.res, m.name+"Response")
			}
			if err == nil {
				sd.Method = append(sd.Method, &descriptorpb.MethodDescriptorProto{
					Name:       proto.String(m.name),
					InputType:  proto.String(in),
					OutputType: proto.String(out),
				})
				methods = append(methods, m)
				continue
			}
		}
		problems = append(problems, fmt.Sprintf("method %s %s: %v", mt.Name, strings.TrimPrefix(mt.Type.String(), "func"), err))
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("sdk: %T cannot be served:\n\t%s", impl, strings.Join(problems, "\n\t"))
	}
	if len(methods) == 0 {
		return nil, fmt.Errorf("sdk: %T has no exported methods to serve", impl)
	}
	b.file.Service = []*descriptorpb.ServiceDescriptorProto{sd}
	fd, err := link(b.file)
	if err != nil {
		return nil, fmt.Errorf("sdk: %w", err)
	}

	s := &service{impl: impl, name: name, file: fd, methods: methods}
	sdesc := fd.Services().Get(0)
	s.desc = grpc.ServiceDesc{
		ServiceName: string(sdesc.FullName()),
		HandlerType: (*any)(nil),
		Metadata:    fd.Path(),
	}
	for _, m := range methods {
		md := sdesc.Methods().ByName(protoreflect.Name(m.name))
		m.in, m.out = md.Input(), md.Output()
		s.desc.Methods = append(s.desc.Methods, grpc.MethodDesc{
			MethodName: m.name,
			Handler:    m.handler("/" + string(sdesc.FullName()) + "/" + m.name),
		})
	}
	return s, nil
}

// inspect checks a method's shape:
// func([context.Context,] [A]) ([R,] [error]).
func inspect(name string, fn reflect.Value) (*method, error) {
	ft := fn.Type()
	m := &method{name: name, fn: fn}
	ins := make([]reflect.Type, 0, ft.NumIn())
	for i := range ft.NumIn() {
		ins = append(ins, ft.In(i))
	}
	if ft.IsVariadic() {
		return nil, errors.New("variadic methods are not supported")
	}
	if len(ins) > 0 && ins[0] == typeContext {
		m.hasCtx = true
		ins = ins[1:]
	}
	switch len(ins) {
	case 0:
	case 1:
		m.arg = ins[0]
	default:
		return nil, errors.New("takes more than one argument (besides an optional context.Context): take a struct instead")
	}
	outs := make([]reflect.Type, 0, ft.NumOut())
	for i := range ft.NumOut() {
		outs = append(outs, ft.Out(i))
	}
	if len(outs) > 0 && outs[len(outs)-1] == typeError {
		m.hasErr = true
		outs = outs[:len(outs)-1]
	}
	switch len(outs) {
	case 0:
	case 1:
		m.res = outs[0]
	default:
		return nil, errors.New("returns more than one result (besides an optional error): return a struct instead")
	}
	return m, nil
}

// handler is the gRPC unary handler for m: dynamic request message to Go
// argument, call, Go result to dynamic response message.
func (m *method) handler(fullMethod string) func(any, context.Context, func(any) error, grpc.UnaryServerInterceptor) (any, error) {
	return func(srv any, ctx context.Context, dec func(any) error, icpt grpc.UnaryServerInterceptor) (any, error) {
		in := dynamicpb.NewMessage(m.in)
		if err := dec(in); err != nil {
			return nil, err
		}
		if icpt == nil {
			return m.invoke(ctx, in)
		}
		info := &grpc.UnaryServerInfo{Server: srv, FullMethod: fullMethod}
		return icpt(ctx, in, info, func(ctx context.Context, req any) (any, error) {
			return m.invoke(ctx, req.(*dynamicpb.Message))
		})
	}
}

func (m *method) invoke(ctx context.Context, in *dynamicpb.Message) (any, error) {
	args := make([]reflect.Value, 0, 2)
	if m.hasCtx {
		args = append(args, reflect.ValueOf(ctx))
	}
	if m.arg != nil {
		a := reflect.New(m.arg).Elem()
		if err := fromMessage(in, a); err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "%s: bad argument: %v", m.name, err)
		}
		args = append(args, a)
	}
	outs := m.fn.Call(args)
	if m.hasErr {
		if e := outs[len(outs)-1]; !e.IsNil() {
			return nil, toStatus(e.Interface().(error))
		}
	}
	out := dynamicpb.NewMessage(m.out)
	if m.res != nil {
		if err := toMessage(out, outs[0]); err != nil {
			return nil, status.Errorf(codes.Internal, "%s: bad result: %v", m.name, err)
		}
	}
	return out, nil
}

// toStatus keeps a gRPC status an author returned (status.Error, possibly
// wrapped) and turns any other error into codes.Unknown with its message.
func toStatus(err error) error {
	if s, ok := status.FromError(err); ok {
		return s.Err()
	}
	return status.Error(codes.Unknown, err.Error())
}
