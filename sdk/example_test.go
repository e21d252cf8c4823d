package sdk_test

import (
	"context"
	"fmt"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/plugctl/plugctl/sdk"
)

// A plugin's main: Serve never returns (not run here: it waits for
// go-plugin's handshake).
func ExampleServe() {
	sdk.Serve(Greeter{})
}

// Store's methods have pointer receivers.
type Store struct {
	data map[string]string
}

func (s *Store) Put(kv struct{ Key, Value string }) { s.data[kv.Key] = kv.Value }

func (s *Store) Get(key string) (string, error) {
	v, ok := s.data[key]
	if !ok {
		return "", fmt.Errorf("no key %q", key)
	}
	return v, nil
}

// Check reports whether a value can be served, and names every method that
// cannot, without serving anything.
func ExampleServeConfig_Check() {
	err := sdk.ServeConfig{Name: "store"}.Check(&Store{})
	fmt.Println("pointer:", err)
	// The methods have pointer receivers: a Store value has none of them.
	err = sdk.ServeConfig{Name: "store"}.Check(Store{})
	fmt.Println("value:", err)
	// Output:
	// pointer: <nil>
	// value: sdk: sdk_test.Store has no exported methods to serve
}

func ExampleServiceName() {
	fmt.Println(sdk.ServiceName("greeter"))
	fmt.Println(sdk.ServiceName("kv-js"))
	// Output:
	// plugctl.sdk.greeter.Greeter
	// plugctl.sdk.kv_js.KvJs
}

// Plugin gives the service to register on a gRPC server of one's own; here
// it is called as plugctl would call it, with a StringValue for a string.
func ExampleServeConfig_Plugin() {
	p, name, err := sdk.ServeConfig{}.Plugin(Greeter{})
	if err != nil {
		fmt.Println(err)
		return
	}
	srv := grpc.NewServer()
	if err := p.GRPCServer(nil, srv); err != nil {
		fmt.Println(err)
		return
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	go srv.Serve(ln)
	defer srv.Stop()

	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()
	var out wrapperspb.StringValue
	method := "/" + sdk.ServiceName(name) + "/Greet"
	if err := conn.Invoke(context.Background(), method, wrapperspb.String("world"), &out); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(name, out.GetValue())
	// Output: greeter Hello, world!
}
