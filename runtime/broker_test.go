package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"path/filepath"
	"strings"
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
