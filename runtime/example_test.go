package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	plugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/plugctl/plugctl/runtime"
	kvproto "github.com/plugctl/plugctl/testdata/plugins/kv/proto"
)

// A host application runs the plugins installed in a plugctl home (here a
// temporary one; normally store.New(dir) or the user's ~/.plugins) through a
// Manager: each is launched on first use and reused after.
func ExampleManager() {
	home, remove, err := runtime.NewExampleHome() // greeter and kv installed
	if err != nil {
		log.Fatal(err)
	}
	defer remove()

	m, err := runtime.OpenManager(home, runtime.ManagerOptions{HealthInterval: 10 * time.Second})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close() // stops every plugin it launched

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := m.Call(ctx, "greeter", "Greet", []byte(`"world"`))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(out))

	// kv keeps its data in memory: the second call reaches the same process.
	if _, err := m.Call(ctx, "kv", "Put", []byte(`{"key": "a", "value": "1"}`)); err != nil {
		log.Fatal(err)
	}
	out, err = m.Call(ctx, "kv", "Get", []byte(`{"key": "a"}`))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(out))

	// Errors are typed: a method the plugin does not have...
	_, err = m.Call(ctx, "greeter", "Farewell", []byte(`"x"`))
	fmt.Println(errors.Is(err, runtime.ErrMethodNotFound))
	// ...and one its method returned.
	_, err = m.Call(ctx, "kv", "Get", []byte(`{"key": "missing"}`))
	var me *runtime.MethodError
	fmt.Println(errors.As(err, &me), me.Code)
	// Output:
	// "Hello, world!"
	// {"value":"1"}
	// true
	// true NotFound
}

// kvPlugin is the host's entry for kv in go-plugin's plugin map: its
// GRPCClient wraps the connection in the client generated from kv.proto.
type kvPlugin struct{ plugin.NetRPCUnsupportedPlugin }

func (kvPlugin) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error { return errors.New("host only") }
func (kvPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return kvproto.NewKVClient(c), nil
}

// A host that compiles in a plugin's interface dispenses it and
// type-asserts, as with go-plugin alone; the Manager does the launching,
// hash checking, health checks and restarts.
func ExampleManager_Dispense() {
	home, remove, err := runtime.NewExampleHome()
	if err != nil {
		log.Fatal(err)
	}
	defer remove()
	m, err := runtime.OpenManager(home, runtime.ManagerOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	raw, err := m.Dispense(ctx, "kv", plugin.PluginSet{"kv": kvPlugin{}})
	if err != nil {
		log.Fatal(err)
	}
	kv := raw.(kvproto.KVClient)
	if _, err := kv.Put(ctx, &kvproto.PutRequest{Key: "lang", Value: "Go"}); err != nil {
		log.Fatal(err)
	}
	resp, err := kv.Get(ctx, &kvproto.GetRequest{Key: "lang"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.GetValue())
	// Output: Go
}

// Start runs a plugin detached (what plugctl start does); any later process
// reattaches to it with Attach, and Close on the attached Plugin only drops
// the connection. Stop ends it.
func ExampleStart() {
	home, remove, err := runtime.NewExampleHome()
	if err != nil {
		log.Fatal(err)
	}
	defer remove()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	r, err := home.ReadReceipt("kv", "1.0.0")
	if err != nil {
		log.Fatal(err)
	}
	st, _, err := runtime.Start(ctx, runtime.SpecFromReceipt(home, r), runtime.Options{Home: home})
	if err != nil {
		log.Fatal(err)
	}
	defer runtime.Stop(context.Background(), home, "kv", "1.0.0")
	fmt.Println(st.Protocol, st.ProtocolVersion)

	for _, args := range []string{`{"key": "a", "value": "warm"}`, `{"key": "a"}`} {
		p, attached, err := runtime.Attach(ctx, home, "kv", "1.0.0", runtime.Options{})
		if err != nil || !attached {
			log.Fatal(attached, err)
		}
		method := map[bool]string{true: "Put", false: "Get"}[len(args) > 15]
		err = p.Call(ctx, method, []byte(args), runtime.CallOptions{}, func(doc []byte) error {
			fmt.Println(method, string(doc))
			return nil
		})
		if err != nil {
			log.Fatal(err)
		}
		p.Close() // the plugin keeps running
	}
	// Output:
	// grpc 1
	// Put {}
	// Get {"value":"warm"}
}
