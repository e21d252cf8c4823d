// Command vaulthost stands in for Vault on the other side of a Vault
// plugin's broker: a go-plugin gRPC plugin with plugctl's default handshake
// (sdk.DefaultHandshake) serving vault/sdk's pb.Storage over an in-memory
// map and the part of pb.SystemView a backend calls during Setup and
// requests. Given as {"$broker": "vault-host"} in a backend's Setup,
// plugctl serves it on the backend's broker, where the SDK dials it for the
// backend's storage and system view. Values live as long as the process,
// which is as long as the started backend's keeper.
package main

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-plugin"
	"github.com/hashicorp/vault/sdk/helper/consts"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/hashicorp/vault/sdk/plugin/pb"
	"google.golang.org/grpc"

	"github.com/plugctl/plugctl/sdk"
)

// The mount's lease TTLs the system view reports (a mount tuned to these;
// Vault's own defaults are 768h for both).
const (
	defaultLeaseTTL = time.Hour
	maxLeaseTTL     = 24 * time.Hour
)

// storage is logical.Storage's contract over a map: List returns the keys
// one level below a prefix, a deeper one as its next segment with a
// trailing slash.
type storage struct {
	pb.UnimplementedStorageServer
	mu sync.Mutex
	m  map[string][]byte
}

func (s *storage) List(_ context.Context, args *pb.StorageListArgs) (*pb.StorageListReply, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var keys []string
	for k := range s.m {
		rest, ok := strings.CutPrefix(k, args.Prefix)
		if !ok {
			continue
		}
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			rest = rest[:i+1]
		}
		if !slices.Contains(keys, rest) {
			keys = append(keys, rest)
		}
	}
	slices.Sort(keys)
	return &pb.StorageListReply{Keys: keys}, nil
}

func (s *storage) Get(_ context.Context, args *pb.StorageGetArgs) (*pb.StorageGetReply, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[args.Key]
	if !ok {
		return &pb.StorageGetReply{}, nil
	}
	return &pb.StorageGetReply{Entry: &pb.StorageEntry{Key: args.Key, Value: v}}, nil
}

func (s *storage) Put(_ context.Context, args *pb.StoragePutArgs) (*pb.StoragePutReply, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[args.Entry.GetKey()] = slices.Clone(args.Entry.GetValue())
	return &pb.StoragePutReply{}, nil
}

func (s *storage) Delete(_ context.Context, args *pb.StorageDeleteArgs) (*pb.StorageDeleteReply, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, args.Key)
	return &pb.StorageDeleteReply{}, nil
}

// systemView answers what vault/sdk's gRPC system view client and
// framework.Backend ask: the TTLs, and a plain, untainted, unreplicated
// local mount without mlock. Other methods answer Unimplemented, which the
// SDK's client turns into its zero answer or an error for the backend.
type systemView struct {
	pb.UnimplementedSystemViewServer
}

func (systemView) DefaultLeaseTTL(context.Context, *pb.Empty) (*pb.TTLReply, error) {
	return &pb.TTLReply{TTL: int64(defaultLeaseTTL)}, nil
}

func (systemView) MaxLeaseTTL(context.Context, *pb.Empty) (*pb.TTLReply, error) {
	return &pb.TTLReply{TTL: int64(maxLeaseTTL)}, nil
}

func (systemView) Tainted(context.Context, *pb.Empty) (*pb.TaintedReply, error) {
	return &pb.TaintedReply{}, nil
}

func (systemView) CachingDisabled(context.Context, *pb.Empty) (*pb.CachingDisabledReply, error) {
	return &pb.CachingDisabledReply{}, nil
}

func (systemView) ReplicationState(context.Context, *pb.Empty) (*pb.ReplicationStateReply, error) {
	return &pb.ReplicationStateReply{State: int32(consts.ReplicationUnknown)}, nil
}

func (systemView) MlockEnabled(context.Context, *pb.Empty) (*pb.MlockEnabledReply, error) {
	return &pb.MlockEnabledReply{}, nil
}

func (systemView) LocalMount(context.Context, *pb.Empty) (*pb.LocalMountReply, error) {
	return &pb.LocalMountReply{Local: true}, nil
}

func (systemView) PluginEnv(context.Context, *pb.Empty) (*pb.PluginEnvReply, error) {
	return &pb.PluginEnvReply{PluginEnvironment: &logical.PluginEnvironment{VaultVersion: "0.0.0-vaulthost"}}, nil
}

type hostPlugin struct{ plugin.NetRPCUnsupportedPlugin }

func (hostPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pb.RegisterStorageServer(s, &storage{m: map[string][]byte{}})
	pb.RegisterSystemViewServer(s, systemView{})
	return nil
}

func (hostPlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, nil
}

func main() {
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: sdk.DefaultHandshake,
		Plugins:         plugin.PluginSet{"vaulthost": hostPlugin{}},
		GRPCServer:      plugin.DefaultGRPCServer,
	})
}
