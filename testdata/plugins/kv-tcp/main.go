// Command kv-tcp is proto.KV (testdata/plugins/kv's service) served the way
// a plugin in another language does it without go-plugin's library: it
// checks the magic cookie (PLUGCTL_PLUGIN=plugctl), listens on TCP on
// 127.0.0.1 at a port the system picks, prints the handshake line
// 1|1|tcp|127.0.0.1:PORT|grpc, and serves KV, gRPC health (service
// "plugin") and reflection. It has no go-plugin controller, broker or stdio
// service, so plugctl stop ends it with SIGTERM. It prints "kv-tcp: put
// KEY" on stderr for each Put, and "kv-tcp: SIGTERM" when it gets one
// (then it exits).
//
//	go build -o kv-tcp ./testdata/plugins/kv-tcp
package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	"github.com/plugctl/plugctl/testdata/plugins/kv/proto"
)

type store struct {
	proto.UnimplementedKVServer
	mu   sync.Mutex
	data map[string]string
}

func (s *store) Get(_ context.Context, req *proto.GetRequest) (*proto.GetResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.data[req.GetKey()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "key %q not found", req.GetKey())
	}
	return &proto.GetResponse{Value: v}, nil
}

func (s *store) Put(_ context.Context, req *proto.PutRequest) (*proto.Empty, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.data[req.GetKey()] = req.GetValue()
	fmt.Fprintf(os.Stderr, "kv-tcp: put %s\n", req.GetKey())
	return &proto.Empty{}, nil
}

func main() {
	if os.Getenv("PLUGCTL_PLUGIN") != "plugctl" {
		fmt.Fprintln(os.Stderr, "kv-tcp is a plugin: run it through plugctl")
		os.Exit(1)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "kv-tcp:", err)
		os.Exit(1)
	}
	s := grpc.NewServer()
	proto.RegisterKVServer(s, &store{data: map[string]string{}})
	hs := health.NewServer()
	hs.SetServingStatus("plugin", grpc_health_v1.HealthCheckResponse_SERVING)
	grpc_health_v1.RegisterHealthServer(s, hs)
	reflection.Register(s)
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	go func() {
		<-term
		fmt.Fprintln(os.Stderr, "kv-tcp: SIGTERM")
		os.Exit(0)
	}()
	fmt.Printf("1|1|tcp|%s|grpc\n", ln.Addr())
	if err := s.Serve(ln); err != nil {
		fmt.Fprintln(os.Stderr, "kv-tcp:", err)
		os.Exit(1)
	}
}
