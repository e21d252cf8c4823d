package runner

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/plugctl/plugctl/store"
)

// Health statuses.
const (
	Healthy      = "healthy"
	Unhealthy    = "unhealthy"
	NotInstalled = "not installed"
)

// Health is the outcome of one plugin's check.
type Health struct {
	Name    string
	Version string // the version checked; empty when none is installed
	Status  string // Healthy, Unhealthy or NotInstalled
	Start   time.Duration
	Latency time.Duration // the probe's round trip
	Warm    bool          // a started process answered (attached, not launched)
	Pid     int
	Err     error // why it is unhealthy
}

// Health checks every target (NAME[@VERSION]) at once, so that plugins
// that never complete their handshake (each held until ctx ends) delay no
// other one's check, and returns the results in the order of targets. Each
// is attached to or launched (AttachOrLaunch) and probed: gRPC's health
// service or net/rpc's Control.Ping.
func (r *Runner) Health(ctx context.Context, targets []string, f Flags) []Health {
	out := make([]Health, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = r.checkHealth(ctx, t, f)
		}()
	}
	wg.Wait()
	return out
}

func (r *Runner) checkHealth(ctx context.Context, target string, f Flags) Health {
	name, _, _ := store.SplitAt(target)
	h := Health{Name: name}
	unhealthy := func(err error) Health {
		h.Status, h.Err = Unhealthy, err
		return h
	}
	rc, err := r.Home.ReadRef(target)
	if errors.Is(err, store.ErrNotInstalled) {
		h.Status = NotInstalled
		return h
	}
	if err != nil {
		return unhealthy(err)
	}
	h.Version = rc.Version
	if err := r.checkFlags(rc, f); err != nil {
		return unhealthy(err)
	}
	opt, err := r.Options(rc.Name, f)
	if err != nil {
		return unhealthy(err)
	}
	t0 := time.Now()
	pl, warm, err := r.AttachOrLaunch(ctx, rc, opt)
	h.Start, h.Warm = time.Since(t0), warm
	if err != nil {
		return unhealthy(err)
	}
	defer pl.Close()
	h.Pid = pl.Pid()
	t1 := time.Now()
	err = pl.Ping(ctx)
	h.Latency = time.Since(t1)
	if err != nil {
		return unhealthy(err)
	}
	h.Status = Healthy
	return h
}
