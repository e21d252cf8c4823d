package runtime

import (
	"context"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// Ping checks that the plugin answers: gRPC health (go-plugin's service
// "plugin", else the server as a whole, for plugins written without
// go-plugin) or net/rpc's Control.Ping. A plugin that answers NOT_SERVING
// is a *PluginError too.
func (p *Plugin) Ping(ctx context.Context) error {
	const method = "grpc.health.v1.Health/Check"
	switch {
	case p.conn != nil:
		hc := grpc_health_v1.NewHealthClient(p.conn)
		resp, err := hc.Check(ctx, &grpc_health_v1.HealthCheckRequest{Service: "plugin"})
		if status.Code(err) == codes.NotFound {
			resp, err = hc.Check(ctx, &grpc_health_v1.HealthCheckRequest{})
		}
		if err != nil {
			if status.Code(err) == codes.Unimplemented {
				return &PluginError{Name: p.spec.Name, Op: OpCall, Err: fmt.Errorf("health check: the plugin serves no grpc.health.v1")}
			}
			e := p.grpcError(ctx, method, err)
			if _, ok := e.(*PluginError); ok {
				return e
			}
			return &PluginError{Name: p.spec.Name, Op: OpCall, Err: fmt.Errorf("health check: %w", e)}
		}
		if s := resp.GetStatus(); s != grpc_health_v1.HealthCheckResponse_SERVING {
			return &PluginError{Name: p.spec.Name, Op: OpCall, Err: fmt.Errorf("health check: %s", s)}
		}
		return nil
	case p.rpc != nil:
		if err := p.rpc.Ping(ctx); err != nil {
			return p.callFailure(ctx, "Control.Ping", err)
		}
		return nil
	}
	return fmt.Errorf("plugin %s: ping: %w", p.spec.Name, ErrUnsupported)
}
