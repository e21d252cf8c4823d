package cmd

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/plugctl/plugctl/fetch"
	"github.com/plugctl/plugctl/install"
)

// progress reports downloads on stderr: on a terminal, for people, one bar
// per artifact (name@version, bytes, speed, time left); never in JSON mode,
// with -q, or in CI logs, which would fill with carriage returns. Without a
// terminal, -v prints one line when an artifact's download starts and one
// when its install ends, which a log can keep.
type progress struct {
	p     *mpb.Progress
	lines io.Writer // set: the -v lines, without a terminal
	mu    sync.Mutex
	bars  []*mpb.Bar
}

func newProgress(g *Global) *progress {
	f, ok := g.IO.ErrOut.(*os.File)
	if g.Quiet {
		return &progress{}
	}
	if !ok || g.JSON() || !isatty.IsTerminal(f.Fd()) {
		if g.Verbose {
			return &progress{lines: g.IO.ErrOut}
		}
		return &progress{}
	}
	return &progress{p: mpb.New(mpb.WithOutput(f), mpb.WithWidth(40))}
}

// artifact returns the fetch.Options.Progress of the downloads of one
// artifact, labelled name@version, or nil when nothing is reported, and
// the function to call when its install ends.
func (pr *progress) artifact(label string) (func(name string, total int64) io.Writer, func()) {
	if pr.p == nil && pr.lines == nil {
		return nil, func() {}
	}
	var n atomic.Int64
	var started atomic.Bool
	var t0 time.Time
	bar := func(_ string, total int64) io.Writer {
		if started.Swap(true) {
			// A second file of the same artifact (its schema): counted,
			// not announced again.
			return countWriter{&n}
		}
		t0 = time.Now()
		if pr.lines != nil {
			size := "size unknown"
			if total >= 0 {
				size = humanBytes(total)
			}
			pr.print("downloading %s (%s)\n", label, size)
			return countWriter{&n}
		}
		return io.MultiWriter(countWriter{&n}, pr.bar(label, total))
	}
	done := func() {
		if pr.lines != nil && started.Load() {
			pr.print("downloaded %s: %s in %s\n", label, humanBytes(n.Load()), time.Since(t0).Round(time.Millisecond))
		}
	}
	return bar, done
}

func (pr *progress) print(format string, args ...any) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	fmt.Fprintf(pr.lines, format, args...)
}

// bar adds a bar for one artifact and returns the writer that advances it.
func (pr *progress) bar(label string, total int64) io.Writer {
	if total < 0 {
		total = 0
	}
	b := pr.p.AddBar(total,
		mpb.PrependDecorators(decor.Name(label, decor.WC{C: decor.DindentRight | decor.DextraSpace})),
		mpb.AppendDecorators(
			decor.CountersKibiByte("% .1f / % .1f"),
			decor.Percentage(decor.WC{W: 5}),
			decor.AverageSpeed(decor.SizeB1024(0), " % .1f", decor.WC{W: 12}),
			decor.Name(" ETA "),
			decor.AverageETA(decor.ET_STYLE_GO),
		),
		mpb.BarRemoveOnComplete(),
	)
	pr.mu.Lock()
	pr.bars = append(pr.bars, b)
	pr.mu.Unlock()
	return &barWriter{b: b}
}

// Wait ends the bars (a download of unknown size, or one that failed,
// never reaches its total by itself) and lets them finish drawing.
func (pr *progress) Wait() {
	if pr.p == nil {
		return
	}
	pr.mu.Lock()
	for _, b := range pr.bars {
		if !b.Completed() {
			b.Abort(true)
		}
	}
	pr.mu.Unlock()
	pr.p.Wait()
}

type barWriter struct{ b *mpb.Bar }

func (w *barWriter) Write(p []byte) (int, error) {
	w.b.IncrBy(len(p))
	return len(p), nil
}

type countWriter struct{ n *atomic.Int64 }

func (w countWriter) Write(p []byte) (int, error) {
	w.n.Add(int64(len(p)))
	return len(p), nil
}

// humanBytes is n in B, KiB, MiB or GiB with one decimal.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n)/unit, 0
	for v >= unit && i < 2 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %s", v, []string{"KiB", "MiB", "GiB"}[i])
}

// installPlans installs plans with in, a progress bar (or -v line) for
// each artifact's downloads.
func (g *Global) installPlans(ctx context.Context, in *install.Installer, plans []install.Plan) ([]install.PlanResult, error) {
	wait := g.withProgress(in)
	defer wait()
	return in.InstallPlans(ctx, plans)
}

// withProgress makes in report each artifact's downloads; the function it
// returns waits for the reports to end.
func (g *Global) withProgress(in *install.Installer) func() {
	prog := newProgress(g)
	in.FetcherFor = func(label string) (*fetch.Fetcher, func()) {
		bar, done := prog.artifact(label)
		if bar == nil {
			return nil, done
		}
		return g.fetcher(bar), done
	}
	return prog.Wait
}
