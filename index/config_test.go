package index

import (
	"errors"
	"testing"

	"github.com/plugctl/plugctl/store"
)

func TestSelect(t *testing.T) {
	cfg := &store.Config{Indexes: []store.Source{{Name: "a"}, {Name: "b"}, {Name: "c"}}}
	names := func(ss []store.Source) (out []string) {
		for _, s := range ss {
			out = append(out, s.Name)
		}
		return out
	}
	if got, err := Select(cfg, nil); err != nil || len(got) != 3 {
		t.Errorf("Select(none) = %v, %v; want every index", names(got), err)
	}
	if got, err := Select(cfg, []string{"c", "a", "c"}); err != nil || len(got) != 2 || got[0].Name != "c" || got[1].Name != "a" {
		t.Errorf("Select(c a c) = %v, %v; want c then a, once each", names(got), err)
	}
	var nf *NotFoundError
	if _, err := Select(cfg, []string{"a", "nosuch"}); !errors.As(err, &nf) || nf.What != "index" || nf.Name != "nosuch" {
		t.Errorf("Select(nosuch) = %v, want a *NotFoundError naming the index", err)
	}
}

func TestUsagef(t *testing.T) {
	err := Usagef("--latest %d: want 1 or more", -1)
	if !errors.Is(err, ErrUsage) || err.Error() != "--latest -1: want 1 or more" {
		t.Errorf("Usagef = %q (ErrUsage: %v), want the message alone, wrapping ErrUsage", err, errors.Is(err, ErrUsage))
	}
}
