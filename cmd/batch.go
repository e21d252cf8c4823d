package cmd

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/plugctl/plugctl/internal/batch"
)

// batchRun is call --batch: the requests of file (a[0], default - for
// stdin), each answered on one line (internal/batch), over one session
// with the plugin, which call's path gives (runner: keeper, else attach,
// else launch); the exit code is the first failed request's.
func batchRun(ctx context.Context, o *callOptions, a []string) error {
	g := o.g
	file := "-"
	if len(a) == 1 {
		file = a[0]
	}
	if o.Raw {
		return usageErrorf("call --batch answers JSON lines: --raw does not apply")
	}
	p, err := g.Paths()
	if err != nil {
		return err
	}
	rf := o.Run.flags()
	run := g.runner(p)
	r, err := run.Resolve(o.Target, rf)
	if err != nil {
		return err
	}
	open, err := run.BatchOpener(ctx, r, rf)
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
	timeout := g.Timeout
	if timeout <= 0 {
		timeout = DefaultRunTimeout
	}
	code, err := batch.Run(ctx, in, g.IO.Out, batch.Options{
		Open:        open,
		Classify:    classifyBatch,
		Timeout:     timeout,
		CallOptions: rf.CallOptions(md),
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
