package runner

import (
	"context"
	"fmt"

	"github.com/plugctl/plugctl/internal/batch"
	"github.com/plugctl/plugctl/runtime"
	"github.com/plugctl/plugctl/store"
)

// BatchOpener returns batch.Options.Open for the requests of a batch to
// rc's version (from Resolve) made with f: as for Call, the started
// version's keeper when it has one and f allows (and the batch does not
// ask for a session of its own), else a process from AttachOrLaunch that
// lives until the Conn is closed or ctx ends; a request's deadline (rctx)
// bounds only its start. config.yaml is read here, before any request.
func (r *Runner) BatchOpener(ctx context.Context, rc *store.Receipt, f Flags) (func(rctx context.Context, keeper bool) (batch.Conn, error), error) {
	opt, err := r.Options(rc.Name, f)
	if err != nil {
		return nil, err
	}
	return func(rctx context.Context, keeper bool) (batch.Conn, error) {
		if keeper && f.keeperOK() {
			if st, err := runtime.ReadStarted(r.Home, rc.Name, rc.Version); err == nil && st.Keeper(r.Home) != "" {
				return batch.KeeperConn(st, r.Home, rc), nil
			}
		}
		lctx, cancel := context.WithCancel(ctx)
		stop := context.AfterFunc(rctx, cancel)
		pl, _, err := r.AttachOrLaunch(lctx, rc, opt)
		if !stop() && err == nil {
			_ = pl.Close()
			cancel()
			return nil, &runtime.PluginError{Name: rc.Name, Op: runtime.OpStart, Err: fmt.Errorf("launch: %w", rctx.Err())}
		}
		if err != nil {
			cancel()
			return nil, err
		}
		return closeWith{batch.PluginConn(pl), cancel}, nil
	}, nil
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
