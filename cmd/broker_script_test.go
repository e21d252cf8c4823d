package cmd_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// rawFrames passes gRPC messages through as bytes.
type rawFrames struct{}

func (rawFrames) Marshal(v any) ([]byte, error) { return *v.(*[]byte), nil }
func (rawFrames) Unmarshal(b []byte, v any) error {
	*v.(*[]byte) = append([]byte(nil), b...)
	return nil
}
func (rawFrames) Name() string { return "proto" }

// brokerleave RUNFILE: do what a foreign go-plugin host does to the started
// plugin that run/NAME@VERSION.json describes when it attaches and leaves:
// open the plugin's broker stream, then end it, which closes the plugin's
// broker for good. It returns once the plugin's broker is seen closed: a
// new stream is ended by the plugin as soon as it sends something.
func cmdBrokerLeave(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: brokerleave RUNFILE")
	}
	var st struct{ Network, Address string }
	ts.Check(json.Unmarshal([]byte(ts.ReadFile(args[0])), &st))
	conn, err := grpc.NewClient("passthrough:///plugin",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, st.Network, st.Address)
		}),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	ts.Check(err)
	defer conn.Close()
	open := func(ctx context.Context) grpc.ClientStream {
		cs, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, "/plugin.GRPCBroker/StartStream", grpc.ForceCodec(rawFrames{}))
		ts.Check(err)
		empty := []byte{} // a ConnInfo for ID 0, which nobody dials
		ts.Check(cs.SendMsg(&empty))
		return cs
	}
	ctx, cancel := context.WithCancel(context.Background())
	_ = open(ctx)
	cancel() // the host leaves

	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cs := open(ctx)
	ended := make(chan error, 1)
	go func() {
		var b []byte
		ended <- cs.RecvMsg(&b)
	}()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-ended:
			if !errors.Is(err, io.EOF) {
				ts.Fatalf("broker stream: %v, want its end", err)
			}
			return
		case <-tick.C:
			empty := []byte{}
			_ = cs.SendMsg(&empty)
		case <-ctx.Done():
			ts.Fatalf("%s: the plugin's broker did not close: %v", args[0], fmt.Errorf("waited 10s"))
		}
	}
}
