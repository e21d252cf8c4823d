package index

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/plugctl/plugctl/fetch"
	"github.com/plugctl/plugctl/store"
)

// Add fetches and validates the index s names, then adds it to
// config.yaml; when the fetch fails the configuration is left as it was.
// The name must be free (an error wrapping store.ErrIndexExists).
func Add(ctx context.Context, f *fetch.Fetcher, p store.Paths, s store.Source) (*Index, error) {
	cfg, err := store.LoadConfig(p)
	if err != nil {
		return nil, err
	}
	if _, ok := cfg.Lookup(s.Name); ok {
		return nil, fmt.Errorf("index %q: %w", s.Name, store.ErrIndexExists)
	}
	idx, err := Fetch(ctx, f, p, s)
	if err != nil {
		return nil, err
	}
	if err := store.AddIndex(ctx, p, s); err != nil {
		// When another add of the same name got there first, the cache
		// is that index's now.
		if !errors.Is(err, store.ErrIndexExists) {
			RemoveCache(p, s.Name)
		}
		return nil, err
	}
	return idx, nil
}

// Remove removes the index called name from config.yaml, then its cached
// copy.
func Remove(ctx context.Context, p store.Paths, name string) error {
	if err := store.RemoveIndex(ctx, p, name); err != nil {
		if errors.Is(err, store.ErrNoSuchIndex) {
			return &NotFoundError{What: "index", Name: name}
		}
		return err
	}
	return RemoveCache(p, name)
}

// Select returns the configured indexes names, in the order given and
// each once, or every configured index when names is empty. A name not
// configured is a *NotFoundError.
func Select(cfg *store.Config, names []string) ([]store.Source, error) {
	if len(names) == 0 {
		return cfg.Indexes, nil
	}
	var out []store.Source
	for _, n := range names {
		s, ok := cfg.Lookup(n)
		if !ok {
			return nil, &NotFoundError{What: "index", Name: n}
		}
		if !slices.ContainsFunc(out, func(x store.Source) bool { return x.Name == n }) {
			out = append(out, s)
		}
	}
	return out, nil
}
