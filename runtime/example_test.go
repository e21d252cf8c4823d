package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	goruntime "runtime"
	"time"

	"github.com/hashicorp/go-hclog"
	plugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/plugctl/plugctl/fetch"
	"github.com/plugctl/plugctl/install"
	"github.com/plugctl/plugctl/runtime"
	"github.com/plugctl/plugctl/store"
	kvproto "github.com/plugctl/plugctl/testdata/plugins/kv/proto"
	"github.com/plugctl/plugctl/verify"
)

// installFile installs the plugin binary file into home as name@version,
// as `plugctl install --from FILE --sha256 HEX --name NAME --version V`
// does: the hash pins what runs, every launch checks it.
func installFile(ctx context.Context, home store.Paths, file, name, version string, proto store.Protocol) error {
	sum, err := verify.FileSHA256(file)
	if err != nil {
		return err
	}
	in := &install.Installer{Paths: home, Fetcher: fetch.New(fetch.Options{})}
	_, err = in.Install(ctx, install.Request{
		Name: name, Version: version, Source: file, SHA256: sum,
		Platform: goruntime.GOOS + "/" + goruntime.GOARCH, Protocol: proto,
	})
	return err
}

// exampleHome makes a plugctl home in a temporary directory with kv (gRPC)
// and hello (go-plugin's net/rpc Greeter) installed. A host application
// opens the user's home instead: store.New(dir), store.DefaultHome().
func exampleHome(ctx context.Context) (home store.Paths, remove func(), err error) {
	dir, err := os.MkdirTemp("", "plugins")
	if err != nil {
		return store.Paths{}, nil, err
	}
	remove = func() { os.RemoveAll(dir) }
	if home, err = store.New(dir); err != nil {
		remove()
		return store.Paths{}, nil, err
	}
	for _, p := range []struct {
		bin, name string
		proto     store.Protocol
	}{
		{"kv", "kv", store.Protocol{Kind: store.KindGRPC}},
		{"greeter-netrpc", "hello", store.Protocol{Kind: store.KindNetRPC, CookieKey: "BASIC_PLUGIN", CookieValue: "hello", Dispense: "greeter"}},
	} {
		file, err := runtime.PluginBinary(p.bin) // your plugin's binary
		if err == nil {
			err = installFile(ctx, home, file, p.name, "1.0.0", p.proto)
		}
		if err != nil {
			remove()
			return store.Paths{}, nil, err
		}
	}
	return home, remove, nil
}

// A host application runs the plugins installed in a plugctl home through a
// Manager: each is launched on first use and reused after. Its logger gets
// go-plugin's lines and the plugins' own logs.
func ExampleManager() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	home, remove, err := exampleHome(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer remove()

	logger := hclog.New(&hclog.LoggerOptions{Name: "host", Level: hclog.Warn})
	m, err := runtime.OpenManager(home, runtime.ManagerOptions{Launch: runtime.Options{Logger: logger}})
	if err != nil {
		log.Fatal(err)
	}
	defer func() {
		// Stops every plugin it launched; calls still running get 5s.
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		_ = m.Shutdown(sctx)
	}()

	out, err := m.Call(ctx, "hello", "Greet", nil, runtime.CallOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(out))

	// kv keeps its data in memory: the second call reaches the same process.
	if _, err := m.Call(ctx, "kv", "Put", []byte(`{"key": "a", "value": "1"}`), runtime.CallOptions{}); err != nil {
		log.Fatal(err)
	}
	out, err = m.Call(ctx, "kv", "Get", []byte(`{"key": "a"}`), runtime.CallOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(out))

	// gRPC metadata goes with the call.
	out, err = m.Call(ctx, "kv", "Whoami", nil, runtime.CallOptions{Metadata: metadata.Pairs("x-user", "ann")})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(out))

	// Errors are typed: a method the plugin does not have...
	_, err = m.Call(ctx, "kv", "Delete", []byte(`{"key": "a"}`), runtime.CallOptions{})
	fmt.Println(errors.Is(err, runtime.ErrMethodNotFound))
	// ...and one its method returned.
	_, err = m.Call(ctx, "kv", "Get", []byte(`{"key": "missing"}`), runtime.CallOptions{})
	var me *runtime.MethodError
	fmt.Println(errors.As(err, &me), me.Code)
	// Output:
	// "Hello!"
	// {"value":"1"}
	// {"user":"ann"}
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
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	home, remove, err := exampleHome(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer remove()
	m, err := runtime.OpenManager(home, runtime.ManagerOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()

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
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	home, remove, err := exampleHome(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer remove()

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
