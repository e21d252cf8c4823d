// Command kv is plugctl's example plugin built from a .proto service: a
// go-plugin gRPC plugin (default handshake PLUGCTL_PLUGIN=plugctl, protocol
// version 1, plugin map name "kv") serving proto.KV from proto/kv.proto,
// with the gRPC reflection and health services every go-plugin gRPC plugin
// has. Data lives in memory for the life of the process.
//
//	go build -o kv ./testdata/plugins/kv
//
// The generated code in proto/ and kv.protoset are checked in; generate.sh
// rebuilds them.
package main

import (
	"context"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/plugctl/plugctl/sdk"
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
	return &proto.Empty{}, nil
}

func (s *store) List(req *proto.ListRequest, stream grpc.ServerStreamingServer[proto.Entry]) error {
	s.mu.Lock()
	var entries []*proto.Entry
	for k, v := range s.data {
		if strings.HasPrefix(k, req.GetPrefix()) {
			entries = append(entries, &proto.Entry{Key: k, Value: v})
		}
	}
	s.mu.Unlock()
	sort.Slice(entries, func(i, j int) bool { return entries[i].Key < entries[j].Key })
	for _, e := range entries {
		if err := stream.Send(e); err != nil {
			return err
		}
	}
	return nil
}

func (s *store) Count(req *proto.CountRequest, stream grpc.ServerStreamingServer[proto.CountResponse]) error {
	n := req.GetN()
	if n == 0 {
		n = 3
	}
	for i := int32(1); i <= n; i++ {
		if d := req.GetIntervalMs(); d > 0 {
			select {
			case <-time.After(time.Duration(d) * time.Millisecond):
			case <-stream.Context().Done():
				return stream.Context().Err()
			}
		}
		if err := stream.Send(&proto.CountResponse{I: i}); err != nil {
			return err
		}
	}
	return nil
}

func (s *store) Whoami(ctx context.Context, _ *proto.Empty) (*proto.WhoamiResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get("x-user"); len(v) > 0 {
		return &proto.WhoamiResponse{User: v[0]}, nil
	}
	return nil, status.Error(codes.Unauthenticated, "missing metadata x-user")
}

// kvPlugin is the go-plugin glue; a Go host dispenses a proto.KVClient.
type kvPlugin struct {
	plugin.NetRPCUnsupportedPlugin
}

func (kvPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	proto.RegisterKVServer(s, &store{data: map[string]string{}})
	return nil
}

func (kvPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return proto.NewKVClient(c), nil
}

func main() {
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: sdk.DefaultHandshake,
		Plugins:         plugin.PluginSet{"kv": kvPlugin{}},
		GRPCServer:      plugin.DefaultGRPCServer,
	})
}
