package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
	rpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	"github.com/plugctl/plugctl/store"
)

// serveUnix serves s on a fresh unix socket and returns a client of it.
func serveUnix(t *testing.T, s *grpc.Server) *grpc.ClientConn {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "s")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(s.Stop)
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// Calls of every kind reach the helper through the forwarding server as
// they are (frames, status, metadata), with no schema: unary (health
// Check), server-streaming (health Watch), bidirectional (reflection).
func TestForwardTo(t *testing.T) {
	t.Parallel()
	backend := grpc.NewServer(grpc.UnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if md, _ := metadata.FromIncomingContext(ctx); len(md.Get("x-who")) == 1 {
			_ = grpc.SetHeader(ctx, metadata.Pairs("x-saw", md.Get("x-who")[0]))
		}
		return h(ctx, req)
	}))
	hs := health.NewServer()
	hs.SetServingStatus("plugin", grpc_health_v1.HealthCheckResponse_SERVING)
	grpc_health_v1.RegisterHealthServer(backend, hs)
	reflection.Register(backend)
	helper := serveUnix(t, backend)

	fwd := grpc.NewServer(grpc.UnknownServiceHandler(forwardTo(helper)), grpc.ForceServerCodec(rawCodec{}))
	conn := serveUnix(t, fwd)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	hc := grpc_health_v1.NewHealthClient(conn)
	var hdr metadata.MD
	resp, err := hc.Check(metadata.AppendToOutgoingContext(ctx, "x-who", "ada"), &grpc_health_v1.HealthCheckRequest{Service: "plugin"}, grpc.Header(&hdr))
	if err != nil || resp.GetStatus() != grpc_health_v1.HealthCheckResponse_SERVING {
		t.Fatalf("Check through the forwarder: %v, %v", resp, err)
	}
	if got := hdr.Get("x-saw"); len(got) != 1 || got[0] != "ada" {
		t.Errorf("metadata: the helper saw x-who %q, want ada", got)
	}
	_, err = hc.Check(ctx, &grpc_health_v1.HealthCheckRequest{Service: "nosuch"})
	if status.Code(err) != codes.NotFound {
		t.Errorf("Check of an unknown service: %v, want the helper's NotFound", err)
	}

	w, err := hc.Watch(ctx, &grpc_health_v1.HealthCheckRequest{Service: "plugin"})
	if err != nil {
		t.Fatal(err)
	}
	if m, err := w.Recv(); err != nil || m.GetStatus() != grpc_health_v1.HealthCheckResponse_SERVING {
		t.Fatalf("Watch's first message: %v, %v", m, err)
	}
	hs.SetServingStatus("plugin", grpc_health_v1.HealthCheckResponse_NOT_SERVING)
	if m, err := w.Recv(); err != nil || m.GetStatus() != grpc_health_v1.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("Watch's second message: %v, %v", m, err)
	}

	rc, err := rpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := rc.Send(&rpb.ServerReflectionRequest{MessageRequest: &rpb.ServerReflectionRequest_ListServices{}}); err != nil {
			t.Fatal(err)
		}
		r, err := rc.Recv()
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, s := range r.GetListServicesResponse().GetService() {
			names = append(names, s.GetName())
		}
		if !strings.Contains(strings.Join(names, " "), "grpc.health.v1.Health") {
			t.Errorf("reflection through the forwarder lists %v", names)
		}
	}
	if err := rc.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := rc.Recv(); err == nil {
		t.Error("reflection stream: a reply after CloseSend")
	}
}

// Every {"$broker": REF} is replaced, at any depth, and nothing else.
func TestSubstituteBrokersFindsEveryReference(t *testing.T) {
	t.Parallel()
	args := []byte(`{"a": {"$broker": "x"}, "b": [{"$broker": "y@1.0.0"}, {"$broker": "z", "other": 1}], "c": {"d": {"$broker": "x"}}, "n": 12345678901234567890}`)
	var seen []string
	doc, err := walkBrokerRefs(args, func(ref string) (uint32, error) {
		seen = append(seen, ref)
		return uint32(len(seen)), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 3 {
		t.Errorf("references served: %v, want x, y@1.0.0 and x", seen)
	}
	var got map[string]any
	if err := json.Unmarshal(doc, &got); err != nil {
		t.Fatal(err)
	}
	if _, ok := got["a"].(float64); !ok {
		t.Errorf("a: %v, want an ID", got["a"])
	}
	if b := got["b"].([]any); len(b) != 2 || b[1].(map[string]any)["$broker"] != "z" {
		t.Errorf("b: %v: an object with more than $broker must stay", b)
	}
	if !strings.Contains(string(doc), "12345678901234567890") {
		t.Errorf("a large number lost its digits: %s", doc)
	}
	if namesBroker([]byte(`{"s": "{\"$broker\": \"x\"}"}`)) {
		t.Error("a string that spells $broker is not a reference")
	}
	if !namesBroker(args) {
		t.Error("namesBroker missed the references")
	}

	stop := errors.New("stop")
	if _, err := walkBrokerRefs(args, func(string) (uint32, error) { return 0, stop }); !errors.Is(err, stop) {
		t.Errorf("error of the server: %v", err)
	}
}

var (
	brokerBinsOnce sync.Once
	brokerBinsDir  string
	brokerBinsErr  error
)

// brokerBins builds go-plugin's bidirectional example (unmodified) and the
// adder helper, once per test binary, beside TestMain's plugins.
func brokerBins(t *testing.T) (counter, adder string) {
	t.Helper()
	brokerBinsOnce.Do(func() {
		brokerBinsDir = filepath.Join(filepath.Dir(goodBin), "broker")
		for _, b := range [][2]string{
			{"counter", "github.com/hashicorp/go-plugin/examples/bidirectional/plugin-go-grpc"},
			{"adder", "./testdata/plugins/adder"},
		} {
			c := exec.Command("go", "build", "-o", filepath.Join(brokerBinsDir, b[0]), b[1])
			c.Dir = ".."
			if out, err := c.CombinedOutput(); err != nil {
				brokerBinsErr = fmt.Errorf("go build %s: %v\n%s", b[1], err, out)
				return
			}
		}
	})
	if brokerBinsErr != nil {
		t.Fatal(brokerBinsErr)
	}
	return filepath.Join(brokerBinsDir, "counter"), filepath.Join(brokerBinsDir, "adder")
}

// brokerHome is a home with go-plugin's bidirectional counter and the adder
// installed.
func brokerHome(t *testing.T) store.Paths {
	counter, adder := brokerBins(t)
	home := store.Paths{Home: t.TempDir()}
	if err := installFake(home, counter, "counter", "1.0.0", store.Protocol{Kind: store.KindGRPC, CookieKey: "BASIC_PLUGIN", CookieValue: "hello", Dispense: "counter"}, true); err != nil {
		t.Fatal(err)
	}
	if err := installFake(home, adder, "adder", "1.0.0", store.Protocol{Kind: store.KindGRPC}, true); err != nil {
		t.Fatal(err)
	}
	return home
}

// A host library's Manager serves $broker helpers too, and its Close ends
// them; a helper that is not installed wraps store.ErrNotInstalled.
func TestManagerBrokerCallback(t *testing.T) {
	home := brokerHome(t)
	m := openManager(t, home, ManagerOptions{HealthInterval: -1, Launch: Options{Dir: t.TempDir()}})
	mgrCall(t, m, "counter", "Put", `{"key": "k", "value": "40", "addServer": {"$broker": "adder"}}`)
	mgrCall(t, m, "counter", "Put", `{"key": "k", "value": "2", "addServer": {"$broker": "adder@1.0.0"}}`)
	if got := mgrCall(t, m, "counter", "Get", `{"key": "k"}`); got != `{"value":"42"}` {
		t.Errorf("Get after two Puts through the adder: %s", got)
	}
	_, err := m.Call(ctxT(t, 20*time.Second), "counter", "Put", []byte(`{"key": "k", "value": "1", "addServer": {"$broker": "nosuch"}}`), CallOptions{})
	var be *BrokerError
	if !errors.As(err, &be) || !errors.Is(err, store.ErrNotInstalled) || be.Helper != "nosuch" {
		t.Errorf("helper not installed: %v, want a *BrokerError wrapping store.ErrNotInstalled", err)
	}
	helperPids := adderPids(t, home)
	if len(helperPids) != 1 {
		t.Fatalf("adder processes while the counter runs: %v, want one (launched once per connection)", helperPids)
	}
	m.Close()
	for deadline := time.Now().Add(10 * time.Second); processAlive(helperPids[0], 0); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the adder (pid %d) outlived the Manager's Close", helperPids[0])
		}
	}
}

// adderPids lists the running processes of home's adder.
func adderPids(t *testing.T, home store.Paths) []int {
	exe := filepath.Join(home.PkgDir("adder", "1.0.0"), "adder")
	out, _ := exec.Command("pgrep", "-f", exe).Output()
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		var pid int
		if _, err := fmt.Sscan(f, &pid); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// A plugin whose broker another go-plugin host closed (it opened the
// broker stream and left) fails a $broker call at once with
// ErrBrokerClosed, not after the plugin's own 5 s wait.
func TestBrokerClosedByAnotherHost(t *testing.T) {
	home := brokerHome(t)
	r, err := home.ReadReceipt("counter", "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	opt := Options{Home: home, Dir: t.TempDir()}
	p := launch(t, ctxT(t, 30*time.Second), SpecFromReceipt(home, r), opt)
	put := func(ctx context.Context) error {
		return p.Call(ctx, "Put", []byte(`{"key": "k", "value": "1", "addServer": {"$broker": "adder"}}`), CallOptions{}, func([]byte) error { return nil })
	}
	if err := put(ctxT(t, 20*time.Second)); err != nil {
		t.Fatalf("Put before: %v", err)
	}

	addr := p.address()
	conn, err := grpc.NewClient("passthrough:///plugin", grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, addr.Network(), addr.String())
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	sctx, leave := context.WithCancel(context.Background())
	cs, err := conn.NewStream(sctx, &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, brokerStream, grpc.ForceCodec(rawCodec{}))
	if err != nil {
		t.Fatal(err)
	}
	empty := []byte{}
	if err := cs.SendMsg(&empty); err != nil {
		t.Fatal(err)
	}
	leave()

	// The plugin ends the connection's broker stream once it sees its
	// broker closed, at the latest when the next ID is sent: either way
	// no call waits for the plugin's 5 s.
	for i := 0; i < 3; i++ {
		start := time.Now()
		err := put(ctxT(t, 20*time.Second))
		t.Logf("Put %d after the stranger left: %v (%s)", i, err, time.Since(start))
		if err == nil {
			if i == 0 {
				continue // the stranger's leaving had not reached the plugin yet
			}
			t.Fatalf("Put %d after another host closed the broker succeeded", i)
		}
		var pe *PluginError
		if !errors.Is(err, ErrBrokerClosed) || !errors.As(err, &pe) {
			t.Fatalf("Put %d: %v (after %s), want a *PluginError wrapping ErrBrokerClosed", i, err, time.Since(start))
		}
		// The plugin gives up on a broker ID after 5 s.
		if d := time.Since(start); d > 4500*time.Millisecond {
			t.Errorf("Put %d failed after %s: it waited for the plugin's timeout", i, d)
		}
	}
}
