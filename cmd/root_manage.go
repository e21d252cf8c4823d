package cmd

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/plugctl/plugctl/fetch"
	"github.com/plugctl/plugctl/index"
	"github.com/plugctl/plugctl/install"
	"github.com/plugctl/plugctl/store"
)

// Fetcher returns the fetcher every network-facing command uses.
func (g *Global) Fetcher() *fetch.Fetcher { return g.fetcher(nil) }

// fetcher builds the fetcher with the limits the environment sets and, when
// bar is not nil, a progress bar per download.
func (g *Global) fetcher(bar func(name string, total int64) io.Writer) *fetch.Fetcher {
	wd, _ := os.Getwd()
	limit, _ := maxBytes()
	return fetch.New(fetch.Options{Pwd: wd, MaxBytes: limit, IdleTimeout: idleTimeout(), Progress: bar, Platform: Platform()})
}

// Installer returns an installer on the selected home.
func (g *Global) Installer() (*install.Installer, error) {
	p, err := g.Paths()
	if err != nil {
		return nil, err
	}
	limit, err := maxBytes()
	if err != nil {
		return nil, err
	}
	return &install.Installer{Paths: p, Fetcher: g.Fetcher(), Limits: install.Limits{MaxBytes: limit}, Hook: g.pauseHook()}, nil
}

// EnvTestPauseAt names an install stage ("fetched", "staged",
// "committed") at which a test build of plugctl prints "paused at STAGE"
// on stderr, creates the file named by PLUGCTL_TEST_PAUSE_AT_FILE if set,
// and sleeps, so that a test can kill it there. testHooks is set
// only in the test binary (EnableTestHooks): plugctl as users build it
// ignores the variable.
const EnvTestPauseAt = "PLUGCTL_TEST_PAUSE_AT"

var testHooks bool

func (g *Global) pauseHook() func(stage string) {
	at := os.Getenv(EnvTestPauseAt)
	if !testHooks || at == "" {
		return nil
	}
	return func(stage string) {
		if stage == at {
			fmt.Fprintf(g.IO.ErrOut, "paused at %s\n", stage)
			if f := os.Getenv(EnvTestPauseAt + "_FILE"); f != "" {
				_ = os.WriteFile(f, []byte(stage+"\n"), 0o644)
			}
			time.Sleep(10 * time.Minute)
		}
	}
}

// Config loads config.yaml of the selected home, whose paths it returns
// too.
func (g *Global) Config() (store.Paths, *store.Config, error) {
	p, err := g.Paths()
	if err != nil {
		return p, nil, err
	}
	cfg, err := store.LoadConfig(p)
	return p, cfg, err
}

// EnvIndexTTL overrides index.DefaultTTL: how old a cached index may be
// before a command that reads it fetches it again.
const EnvIndexTTL = "PLUGCTL_INDEX_TTL"

// freshConfig loads config.yaml and refreshes every configured index whose
// cache is missing or older than the TTL, unless --offline. A failed
// refresh keeps the cached copy and says so; only an index with no cache
// at all is then an error, and only for commands that go on to need it.
// It returns the store paths too, which every caller needs.
func (g *Global) freshConfig(ctx context.Context) (store.Paths, *store.Config, error) {
	p, cfg, err := g.Config()
	if err != nil || g.Offline {
		return p, cfg, err
	}
	ttl := index.DefaultTTL
	if v := os.Getenv(EnvIndexTTL); v != "" {
		if ttl, err = time.ParseDuration(v); err != nil {
			return p, nil, usageErrorf("%s=%q: want a duration such as 30m or 24h", EnvIndexTTL, v)
		}
	}
	now := time.Now()
	var f *fetch.Fetcher // one client for every refresh
	for _, src := range cfg.Indexes {
		if !index.Stale(p, src, ttl, now) {
			continue
		}
		if f == nil {
			f = g.Fetcher()
		}
		if _, err := index.Fetch(ctx, f, p, src); err != nil {
			if m, merr := index.LoadMeta(p, src.Name); merr == nil {
				g.Infof("plugctl: warning: refreshing index %s failed, using the copy from %s: %v\n", src.Name, m.FetchedAt.Local().Format(time.DateTime), err)
				continue
			}
			return p, nil, err
		}
	}
	return p, cfg, nil
}
