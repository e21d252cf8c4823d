package cmd

import (
	"io"
	"os"
	"sync"

	"github.com/mattn/go-isatty"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/plugctl/plugctl/fetch"
)

// progress draws one bar per download on stderr, and only when stderr is a
// terminal and the output is for people: never in JSON mode, with -q, or in
// CI logs, which would fill with carriage returns.
type progress struct {
	p    *mpb.Progress
	mu   sync.Mutex
	bars []*mpb.Bar
}

func newProgress(g *Global) *progress {
	f, ok := g.IO.ErrOut.(*os.File)
	if !ok || g.JSON() || g.Quiet || !isatty.IsTerminal(f.Fd()) {
		return &progress{}
	}
	return &progress{p: mpb.New(mpb.WithOutput(f), mpb.WithWidth(40))}
}

// bar returns the writer that advances a new bar by the bytes written to
// it, or nil when there are no bars.
func (pr *progress) bar(name string, total int64) io.Writer {
	if pr.p == nil {
		return nil
	}
	if total < 0 {
		total = 0
	}
	b := pr.p.AddBar(total,
		mpb.PrependDecorators(decor.Name(name, decor.WC{C: decor.DindentRight | decor.DextraSpace})),
		mpb.AppendDecorators(decor.CountersKibiByte("% .1f / % .1f"), decor.Percentage(decor.WC{W: 5})),
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

// fetcherWithProgress is Fetcher with a bar per download.
func (g *Global) fetcherWithProgress(pr *progress) *fetch.Fetcher {
	if pr.p == nil {
		return g.Fetcher()
	}
	return g.fetcher(pr.bar)
}
