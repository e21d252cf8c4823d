package cmd

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/plugctl/plugctl/internal/batch"
	"github.com/plugctl/plugctl/runtime"
	"github.com/plugctl/plugctl/store"
)

// batchRun is call --batch: the requests of file (a[0], default - for
// stdin), each answered on one line (internal/batch), over one session
// with the plugin; the exit code is the first failed request's.
func batchRun(cmd *cobra.Command, o *callOptions, a []string) error {
	g := o.g
	file := "-"
	if len(a) == 1 {
		file = a[0]
	}
	if o.Raw {
		return usageErrorf("call --batch answers JSON lines: --raw does not apply")
	}
	if err := o.Run.check(); err != nil {
		return err
	}
	p, err := g.Paths()
	if err != nil {
		return err
	}
	r, err := resolveInstalled(p, o.Target)
	if err != nil {
		return err
	}
	if err := g.checkStartedEnv(p, r, &o.Run); err != nil {
		return err
	}
	opt, err := g.runOptions(p, r.Name, &o.Run)
	if err != nil {
		return err
	}
	md, err := parseHeaders(o.Headers)
	if err != nil {
		return err
	}
	var in io.Reader = g.IO.In
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return fmt.Errorf("read requests: %w", err)
		}
		defer f.Close()
		in = f
	}
	ctx := cmd.Context()
	// As for a single call: a keeper serves only calls that need no schema
	// or process of their own.
	mtls := store.MTLSMode(o.Run.MTLS)
	keeperOK := len(o.Run.Proto) == 0 && o.Run.Protoset == "" && (mtls == "" || mtls == store.MTLSAuto)
	open := func(rctx context.Context, keeper bool) (batch.Conn, error) {
		if keeper && keeperOK {
			if st, err := runtime.ReadStarted(p, r.Name, r.Version); err == nil && st.Keeper(p) != "" {
				return batch.KeeperConn(st, p, r), nil
			}
		}
		// The process lives for the batch (Launch's ctx bounds its life);
		// the request's deadline bounds only its start.
		lctx, cancel := context.WithCancel(ctx)
		stop := context.AfterFunc(rctx, cancel)
		pl, _, err := g.launchOrAttach(lctx, p, r, opt)
		if !stop() && err == nil {
			_ = pl.Close()
			cancel()
			return nil, &runtime.PluginError{Name: r.Name, Op: runtime.OpStart, Err: fmt.Errorf("launch: %w", rctx.Err())}
		}
		if err != nil {
			cancel()
			return nil, err
		}
		return closeWith{batch.PluginConn(pl), cancel}, nil
	}
	timeout := g.Timeout
	if timeout <= 0 {
		timeout = DefaultRunTimeout
	}
	code, err := batch.Run(ctx, in, g.IO.Out, batch.Options{
		Open:        open,
		Classify:    classifyBatch,
		Timeout:     timeout,
		CallOptions: o.Run.callOptions(md),
	})
	if err != nil {
		return err
	}
	if code != 0 {
		// Each failure is on its own line of stdout already.
		return &exitError{code: code}
	}
	return nil
}

// classifyBatch is classify for the errors of one request of a batch.
func classifyBatch(err error) (int, string) {
	if batch.IsLineError(err) {
		return ExitUsage, `one request per line: {"id": 1, "method": "M", "args": {...}, "metadata": {"k": "v"}}`
	}
	return classify(err)
}

// closeWith is a Conn that also releases its launch context on Close.
type closeWith struct {
	batch.Conn
	cancel context.CancelFunc
}

func (c closeWith) Close() error {
	err := c.Conn.Close()
	c.cancel()
	return err
}
