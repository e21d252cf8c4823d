package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
)

// Concurrent adds hold the config lock in turn: none is lost.
func TestAddIndexConcurrent(t *testing.T) {
	p, _ := New(t.TempDir())
	const n = 20
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = AddIndex(context.Background(), p, Source{Name: fmt.Sprintf("i%d", i), Address: fmt.Sprintf("/srv/%d/index.yaml", i)})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("add i%d: %v", i, err)
		}
	}
	c, err := LoadConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Indexes) != n {
		t.Fatalf("%d indexes configured, want %d: %+v", len(c.Indexes), n, c.Indexes)
	}
	if err := AddIndex(context.Background(), p, Source{Name: "i3", Address: "/x"}); !errors.Is(err, ErrIndexExists) {
		t.Errorf("adding a configured name: %v, want ErrIndexExists", err)
	}
}

// The user's comments, and settings plugctl does not edit, survive adds and
// removes; what is written reads back with LoadConfig.
func TestEditConfigKeepsComments(t *testing.T) {
	p, _ := New(t.TempDir())
	orig := `# my plugctl settings
indexes:
  # the team's index, keep first
  - name: team
    source: https://plugins.example.com/index.yaml # served by ops
    keys: [RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3]
plugins:
  kv:
    env: [HOME] # kv reads ~/.kvrc
`
	if err := os.WriteFile(p.Config(), []byte(orig), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := AddIndex(ctx, p, Source{Name: "local", Address: "/srv/index.yaml", Keys: []string{"K"}}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p.Config())
	for _, want := range []string{"# my plugctl settings", "# the team's index, keep first", "# served by ops", "# kv reads ~/.kvrc", "name: local"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("after add, config.yaml lacks %q:\n%s", want, b)
		}
	}
	c, err := LoadConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Indexes) != 2 || c.Indexes[1].Name != "local" {
		t.Fatalf("after add: %+v", c.Indexes)
	}
	if s := c.Indexes[1]; s.Address != "/srv/index.yaml" || len(s.Keys) != 1 || s.Keys[0] != "K" {
		t.Errorf("added index reads back as %+v", s)
	}
	if got := c.Plugins["kv"].Env; len(got) != 1 || got[0] != "HOME" {
		t.Errorf("plugin settings after add: %+v", c.Plugins)
	}
	if err := RemoveIndex(ctx, p, "local"); err != nil {
		t.Fatal(err)
	}
	if err := RemoveIndex(ctx, p, "local"); !errors.Is(err, ErrNoSuchIndex) {
		t.Errorf("removing it again: %v, want ErrNoSuchIndex", err)
	}
	b, _ = os.ReadFile(p.Config())
	for _, want := range []string{"# my plugctl settings", "# the team's index, keep first", "# served by ops", "# kv reads ~/.kvrc"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("after remove, config.yaml lacks %q:\n%s", want, b)
		}
	}
	if strings.Contains(string(b), "local") {
		t.Errorf("removed index still in config.yaml:\n%s", b)
	}
	if err := RemoveIndex(ctx, p, "team"); err != nil {
		t.Fatal(err)
	}
	c, err = LoadConfig(p)
	if err != nil || len(c.Indexes) != 0 {
		t.Fatalf("after removing both: %+v, %v", c, err)
	}
}

// A missing file, an empty one and one of only comments take an add.
func TestAddIndexToEmptyConfig(t *testing.T) {
	for _, body := range []string{"", "# nothing yet\n", "indexes:\n"} {
		p, _ := New(t.TempDir())
		if body != "" {
			os.WriteFile(p.Config(), []byte(body), 0o644)
		}
		if err := AddIndex(context.Background(), p, Source{Name: "a", Address: "/a"}); err != nil {
			t.Fatalf("%q: %v", body, err)
		}
		c, err := LoadConfig(p)
		if err != nil || len(c.Indexes) != 1 || c.Indexes[0].Address != "/a" {
			t.Fatalf("%q: %+v, %v", body, c, err)
		}
		b, _ := os.ReadFile(p.Config())
		if strings.HasPrefix(body, "#") && !strings.Contains(string(b), "# nothing yet") {
			t.Errorf("%q: comment lost:\n%s", body, b)
		}
	}
}
