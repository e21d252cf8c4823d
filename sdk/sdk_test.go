package sdk_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	rpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/plugctl/plugctl/sdk"
	"github.com/plugctl/plugctl/sdk/sdktest"
)

type Address struct {
	City string `json:"city"`
}

type Person struct {
	Name    string            `json:"name"`
	Age     int               `json:"age"`
	Tags    []string          `json:"tags"`
	Labels  map[string]string `json:"labels"`
	Born    time.Time         `json:"born"`
	Extra   any               `json:"extra"`
	Home    *Address          `json:"home"`
	Nick    *string           `json:"nick"`
	Friends []Address         `json:"friends"`
	Scores  map[string]int32  `json:"scores"`
	Secret  string            `json:"-"`
	NoTag   bool
	//lint:ignore U1000 an unexported field, which is not served
	private  int
	Embedded // flattened, as encoding/json does
}

type Embedded struct {
	Level uint8 `json:"level"`
}

// Node is recursive: its message refers to itself.
type Node struct {
	Name     string          `json:"name"`
	Children []Node          `json:"children"`
	Parent   *Node           `json:"parent"`
	ByName   map[string]Node `json:"by_name"`
}

type svc struct{}

func (svc) Tree(n Node) Node { return n }

func (svc) Greet(name string) string                 { return "Hello, " + name + "!" }
func (svc) Nothing()                                 {}
func (svc) Fail(_ context.Context, msg string) error { return errors.New(msg) }
func (svc) NotFound() (string, error) {
	return "", fmt.Errorf("lookup: %w", status.Error(codes.NotFound, "no such thing"))
}
func (svc) Echo(p Person) Person        { return p }
func (svc) EchoPtr(p *Person) *Person   { return p }
func (svc) Sum(xs []int) int            { return sumInts(xs) }
func (svc) Small(n int8) int8           { return n }
func (svc) Any(v any) any               { return v }
func (svc) Wait(d time.Duration) string { return d.String() }
func (svc) Raw(b []byte) []byte         { return append(b, '!') }
func (svc) Keys(m map[string]int) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
func (svc) Whoami(ctx context.Context) (string, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get("x-user"); len(v) > 0 {
		return v[0], nil
	}
	return "", status.Error(codes.Unauthenticated, "no x-user")
}

func sumInts(xs []int) int {
	n := 0
	for _, x := range xs {
		n += x
	}
	return n
}

// caller is a minimal generic client, the way plugctl's runtime calls a
// plugin: descriptors from gRPC reflection, requests from JSON.
type caller struct {
	conn    *grpc.ClientConn
	service protoreflect.ServiceDescriptor
}

func newCaller(t *testing.T, conn *grpc.ClientConn, service string) *caller {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := rpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ask := func(req *rpb.ServerReflectionRequest) *rpb.ServerReflectionResponse {
		if err := stream.Send(req); err != nil {
			t.Fatal(err)
		}
		resp, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if e := resp.GetErrorResponse(); e != nil {
			t.Fatalf("reflection: %s", e.GetErrorMessage())
		}
		return resp
	}
	var names []string
	for _, s := range ask(&rpb.ServerReflectionRequest{MessageRequest: &rpb.ServerReflectionRequest_ListServices{}}).GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	if !slices.Contains(names, service) {
		t.Fatalf("service %s not listed by reflection: %v", service, names)
	}
	resp := ask(&rpb.ServerReflectionRequest{MessageRequest: &rpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: service}})
	set := &descriptorpb.FileDescriptorSet{}
	seen := map[string]bool{}
	var fetch func(raw [][]byte)
	fetch = func(raw [][]byte) {
		for _, b := range raw {
			fdp := &descriptorpb.FileDescriptorProto{}
			if err := proto.Unmarshal(b, fdp); err != nil {
				t.Fatal(err)
			}
			if seen[fdp.GetName()] {
				continue
			}
			seen[fdp.GetName()] = true
			set.File = append(set.File, fdp)
			for _, dep := range fdp.GetDependency() {
				if !seen[dep] {
					fetch(ask(&rpb.ServerReflectionRequest{MessageRequest: &rpb.ServerReflectionRequest_FileByFilename{FileByFilename: dep}}).GetFileDescriptorResponse().GetFileDescriptorProto())
				}
			}
		}
	}
	fetch(resp.GetFileDescriptorResponse().GetFileDescriptorProto())
	files, err := protodesc.NewFiles(set)
	if err != nil {
		t.Fatal(err)
	}
	d, err := files.FindDescriptorByName(protoreflect.FullName(service))
	if err != nil {
		t.Fatal(err)
	}
	return &caller{conn: conn, service: d.(protoreflect.ServiceDescriptor)}
}

func (c *caller) call(ctx context.Context, method, arg string) (string, error) {
	md := c.service.Methods().ByName(protoreflect.Name(method))
	if md == nil {
		return "", fmt.Errorf("no method %s", method)
	}
	req := dynamicpb.NewMessage(md.Input())
	if err := protojson.Unmarshal([]byte(arg), req); err != nil {
		return "", fmt.Errorf("bad argument: %w", err)
	}
	resp := dynamicpb.NewMessage(md.Output())
	if err := c.conn.Invoke(ctx, "/"+string(c.service.FullName())+"/"+method, req, resp); err != nil {
		return "", err
	}
	b, err := protojson.Marshal(resp)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	err = json.Compact(&buf, b) // protojson varies its spacing on purpose
	return buf.String(), err
}

func TestCalls(t *testing.T) {
	conn := sdktest.ServeWith(t, sdk.ServeConfig{Name: "testsvc"}, svc{})
	c := newCaller(t, conn, "plugctl.sdk.testsvc.Testsvc")
	ctx := context.Background()

	tests := []struct {
		method, arg, want string
	}{
		{"Greet", `"world"`, `"Hello, world!"`},
		{"Nothing", `{}`, `{}`},
		{"Sum", `{"value":[1,2,3]}`, `"6"`},
		{"Small", `-5`, `-5`},
		{"Any", `{"a":[1,"x",null,true]}`, `{"a":[1,"x",null,true]}`},
		{"Any", `null`, `null`},
		{"Wait", `"1.5s"`, `"1.5s"`},
		{"Raw", `"aGk="`, `"aGkh"`},
		{"Keys", `{"value":{"b":1,"a":2}}`, `{"value":["a","b"]}`},
		{"Echo", `{}`, `{}`},
		{"Echo",
			`{"name":"Ada","age":36,"tags":["x","y"],"labels":{"k":"v"},"born":"1815-12-10T00:00:00Z","extra":{"n":1},"home":{"city":"London"},"nick":"ada","friends":[{"city":"Paris"}],"scores":{"m":3},"NoTag":true,"level":7}`,
			`{"name":"Ada","age":"36","tags":["x","y"],"labels":{"k":"v"},"born":"1815-12-10T00:00:00Z","extra":{"n":1},"home":{"city":"London"},"nick":"ada","friends":[{"city":"Paris"}],"scores":{"m":3},"NoTag":true,"level":7}`},
		{"EchoPtr", `{"name":"Bo","nick":""}`, `{"name":"Bo","nick":""}`},
		{"Tree",
			`{"name":"r","children":[{"name":"a","parent":{"name":"r"}}],"by_name":{"b":{"name":"b"}}}`,
			`{"name":"r","children":[{"name":"a","parent":{"name":"r"}}],"by_name":{"b":{"name":"b"}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			got, err := c.call(ctx, tt.method, tt.arg)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("%s(%s) = %s, want %s", tt.method, tt.arg, got, tt.want)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	conn := sdktest.ServeWith(t, sdk.ServeConfig{Name: "testsvc"}, svc{})
	c := newCaller(t, conn, "plugctl.sdk.testsvc.Testsvc")
	ctx := context.Background()

	tests := []struct {
		method, arg string
		code        codes.Code
		msg         string
	}{
		{"Fail", `"it broke"`, codes.Unknown, "it broke"},
		{"NotFound", `{}`, codes.NotFound, "lookup: rpc error: code = NotFound desc = no such thing"},
		{"Small", `300`, codes.InvalidArgument, "Small: bad argument: value 300 overflows int8"},
		{"Whoami", `{}`, codes.Unauthenticated, "no x-user"},
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			_, err := c.call(ctx, tt.method, tt.arg)
			s, _ := status.FromError(err)
			if s.Code() != tt.code || s.Message() != tt.msg {
				t.Errorf("%s(%s) error = %v, want code %s message %q", tt.method, tt.arg, err, tt.code, tt.msg)
			}
		})
	}

	md := metadata.Pairs("x-user", "alice")
	got, err := c.call(metadata.NewOutgoingContext(ctx, md), "Whoami", `{}`)
	if err != nil || got != `"alice"` {
		t.Errorf("Whoami with x-user = %s, %v", got, err)
	}
}

// TestDescribe checks the schema that reflection shows (what `plugctl
// describe` prints).
func TestDescribe(t *testing.T) {
	conn := sdktest.ServeWith(t, sdk.ServeConfig{Name: "testsvc"}, svc{})
	c := newCaller(t, conn, "plugctl.sdk.testsvc.Testsvc")
	in := func(m string) protoreflect.MessageDescriptor {
		return c.service.Methods().ByName(protoreflect.Name(m)).Input()
	}
	for m, want := range map[string]string{
		"Greet":   "google.protobuf.StringValue",
		"Nothing": "google.protobuf.Empty",
		"Small":   "google.protobuf.Int32Value",
		"Any":     "google.protobuf.Value",
		"Wait":    "google.protobuf.Duration",
		"Raw":     "google.protobuf.BytesValue",
		"Sum":     "plugctl.sdk.testsvc.SumRequest",
		"Echo":    "plugctl.sdk.testsvc.Person",
		"EchoPtr": "plugctl.sdk.testsvc.Person",
	} {
		if got := string(in(m).FullName()); got != want {
			t.Errorf("%s takes %s, want %s", m, got, want)
		}
	}
	if got := c.service.Methods().ByName("Keys").Output().FullName(); got != "plugctl.sdk.testsvc.KeysResponse" {
		t.Errorf("Keys returns %s", got)
	}

	var fields []string
	person := in("Echo").Fields()
	for i := range person.Len() {
		f := person.Get(i)
		kind := f.Kind().String()
		if f.Message() != nil {
			kind = string(f.Message().FullName())
		}
		switch {
		case f.IsMap():
			kind = "map<" + f.MapKey().Kind().String() + "," + f.MapValue().Kind().String() + ">"
		case f.IsList():
			kind = "repeated " + kind
		}
		fields = append(fields, fmt.Sprintf("%d %s %s", f.Number(), f.JSONName(), kind))
	}
	want := []string{
		"1 name string",
		"2 age int64",
		"3 tags repeated string",
		"4 labels map<string,string>",
		"5 born google.protobuf.Timestamp",
		"6 extra google.protobuf.Value",
		"7 home plugctl.sdk.testsvc.Address",
		"8 nick google.protobuf.StringValue",
		"9 friends repeated plugctl.sdk.testsvc.Address",
		"10 scores map<string,int32>",
		"11 NoTag bool",
		"12 level uint32",
	}
	if !slices.Equal(fields, want) {
		t.Errorf("Person fields:\n%s\nwant:\n%s", strings.Join(fields, "\n"), strings.Join(want, "\n"))
	}
}

type badSvc struct{}

func (badSvc) Two(a, b int) int                { return a + b }
func (badSvc) Results() (int, int)             { return 1, 2 }
func (badSvc) Chan(c chan int)                 {}
func (badSvc) Nested(x [][]int)                {}
func (badSvc) Fine(s string) string            { return s }
func (badSvc) Stringer(s fmt.Stringer) string  { return "" }
func (badSvc) Variadic(xs ...string) string    { return "" }
func (badSvc) FloatKey(m map[float64]int) bool { return false }

type badTag struct {
	X int `json:"x-y"`
}

type badTagSvc struct{}

func (badTagSvc) M(badTag) {}

type none struct{}

func TestUnsupported(t *testing.T) {
	err := sdk.ServeConfig{Name: "bad"}.Check(badSvc{})
	if err == nil {
		t.Fatal("Check(badSvc) = nil")
	}
	for _, m := range []string{"Two", "Results", "Chan", "Nested", "Stringer", "Variadic", "FloatKey"} {
		if !strings.Contains(err.Error(), "method "+m+" ") {
			t.Errorf("error does not name method %s:\n%v", m, err)
		}
	}
	if strings.Contains(err.Error(), "Fine") {
		t.Errorf("error names a fine method:\n%v", err)
	}
	if err := (sdk.ServeConfig{Name: "badtag"}).Check(badTagSvc{}); err == nil || !strings.Contains(err.Error(), `"x-y" is not a valid protobuf field name`) {
		t.Errorf("Check(badTagSvc) = %v", err)
	}
	if err := (sdk.ServeConfig{}).Check(none{}); err == nil || !strings.Contains(err.Error(), "no exported methods") {
		t.Errorf("Check(none) = %v", err)
	}
}

func TestServiceName(t *testing.T) {
	for name, want := range map[string]string{
		"greeter": "plugctl.sdk.greeter.Greeter",
		"kv-js":   "plugctl.sdk.kv_js.KvJs",
		"my.tool": "plugctl.sdk.my_tool.MyTool",
	} {
		if got := sdk.ServiceName(name); got != want {
			t.Errorf("ServiceName(%q) = %q, want %q", name, got, want)
		}
	}
}

// TestMain doubles as the plugin binary for TestSubprocess (go-plugin's
// helper-process pattern): no build step, a real handshake.
func TestMain(m *testing.M) {
	if os.Getenv("SDK_TEST_PLUGIN") == "1" {
		sdk.ServeConfig{Name: "testsvc"}.Serve(svc{})
		return
	}
	os.Exit(m.Run())
}

func TestSubprocess(t *testing.T) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "SDK_TEST_PLUGIN=1", "GORACE=atexit_sleep_ms=0")
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  sdk.DefaultHandshake,
		Plugins:          plugin.PluginSet{},
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           hclog.New(&hclog.LoggerOptions{Output: io.Discard}),
		StartTimeout:     20 * time.Second,
	})
	defer client.Kill()
	rpc, err := client.Client()
	if err != nil {
		t.Fatal(err)
	}
	conn := rpc.(*plugin.GRPCClient).Conn
	c := newCaller(t, conn, "plugctl.sdk.testsvc.Testsvc")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := c.call(ctx, "Greet", `"world"`)
	if err != nil || got != `"Hello, world!"` {
		t.Errorf("Greet = %s, %v", got, err)
	}
	_, err = c.call(ctx, "Fail", `"nope"`)
	if s, _ := status.FromError(err); s.Code() != codes.Unknown || s.Message() != "nope" {
		t.Errorf("Fail: %v", err)
	}
	if err := rpc.Ping(); err != nil {
		t.Errorf("health: %v", err)
	}
}

func TestWrongCookie(t *testing.T) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "SDK_TEST_PLUGIN=1", "GORACE=atexit_sleep_ms=0")
	h := sdk.DefaultHandshake
	h.MagicCookieValue = "other"
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  h,
		Plugins:          plugin.PluginSet{},
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           hclog.New(&hclog.LoggerOptions{Output: io.Discard}),
		StartTimeout:     20 * time.Second,
	})
	defer client.Kill()
	if _, err := client.Client(); err == nil {
		t.Fatal("a plugin with another cookie started")
	}
}

type otherSvc struct{}

func (otherSvc) Other() {}

func TestConcurrentAndConflicting(t *testing.T) {
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() { errs[i] = sdk.ServeConfig{Name: "concurrent"}.Check(svc{}) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	err := sdk.ServeConfig{Name: "concurrent"}.Check(otherSvc{})
	if err == nil || !strings.Contains(err.Error(), "already registered with other content") {
		t.Errorf("Check(otherSvc) under a taken name = %v", err)
	}
}

// Greeter is the plugin of the package documentation, served as written
// there: the name "greeter" comes from the type.
type Greeter struct{}

func (Greeter) Greet(name string) string { return "Hello, " + name + "!" }

func TestDocExample(t *testing.T) {
	c := newCaller(t, sdktest.Serve(t, Greeter{}), "plugctl.sdk.greeter.Greeter")
	got, err := c.call(context.Background(), "Greet", `"world"`)
	if err != nil || got != `"Hello, world!"` {
		t.Errorf("Greet = %s, %v", got, err)
	}
	// A pointer serves the same methods under the same name.
	c = newCaller(t, sdktest.Serve(t, &Greeter{}), "plugctl.sdk.greeter.Greeter")
	if got, err := c.call(context.Background(), "Greet", `"you"`); err != nil || got != `"Hello, you!"` {
		t.Errorf("Greet via pointer = %s, %v", got, err)
	}
}
