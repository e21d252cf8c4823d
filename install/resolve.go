package install

import (
	"fmt"
	"strings"

	"github.com/plugctl/plugctl/index"
	"github.com/plugctl/plugctl/store"
)

// Candidate is one index's offer of a plugin, as resolution sees it.
type Candidate struct {
	Index  string // index name
	Meta   *index.Meta
	Plugin index.Plugin
}

// Resolve picks the newest version of q.Name matching q.Constraint for
// platform from the candidates (in configuration order: the first index
// that offers the name wins unless q.Index names one) and returns the
// request that installs it.
func Resolve(q index.Query, cands []Candidate, platform string) (Request, error) {
	req, _, err := resolve(q, cands, platform)
	return req, err
}

// ResolveLocked is Resolve that also returns the lock file entry of the
// chosen version, with every platform the index offers for it.
func ResolveLocked(q index.Query, cands []Candidate, platform string) (Request, LockedPlugin, error) {
	req, c, err := resolve(q, cands, platform)
	if err != nil {
		return req, LockedPlugin{}, err
	}
	lp, err := Entry(*c, req.Version, q.Constraint)
	return req, lp, err
}

func resolve(q index.Query, cands []Candidate, platform string) (Request, *Candidate, error) {
	var c *Candidate
	for i := range cands {
		if q.Index == "" || cands[i].Index == q.Index {
			c = &cands[i]
			break
		}
	}
	if c == nil {
		in := "the configured indexes"
		if q.Index != "" {
			in = "index " + q.Index
		}
		return Request{}, nil, &index.NotFoundError{What: "plugin", Name: q.Name, Where: in}
	}
	version, art, err := index.Match(q.Name, c.Plugin, q.Constraint, platform)
	if err != nil {
		return Request{}, nil, fmt.Errorf("index %s: %w", c.Index, err)
	}
	src, err := index.ResolveURL(c.Meta, art.URL)
	if err != nil {
		return Request{}, nil, fmt.Errorf("index %s: %s@%s: %w", c.Index, q.Name, version, err)
	}
	req := Request{
		Name:       q.Name,
		Version:    version,
		Constraint: q.Constraint,
		Index:      c.Index,
		Source:     src,
		SHA256:     strings.ToLower(string(art.SHA256)),
		H1:         art.H1,
		Bin:        art.Bin,
		Platform:   platform,
		Protocol:   c.Plugin.Protocol,
	}
	if s := c.Plugin.Protocol.Schema; s != nil && s.URL != "" {
		if req.SchemaSource, err = index.ResolveURL(c.Meta, s.URL); err != nil {
			return Request{}, nil, fmt.Errorf("index %s: %s schema: %w", c.Index, q.Name, err)
		}
	}
	return req, c, nil
}

// Candidates loads every configured index's cached entry for name.
func Candidates(p store.Paths, cfg *store.Config, name string) ([]Candidate, error) {
	offers, err := index.Find(p, cfg, name)
	if err != nil {
		return nil, err
	}
	return candidates(offers), nil
}

// CandidatesFor loads only what resolving q on platform needs: the offer of
// the index q names, else of the first configured index that offers the
// name (Resolve picks no other), and of it only the versions that match
// (index.FindMatching): fast on indexes with thousands of versions, and an
// index later in the configuration, even one whose cache is broken, is not
// read.
func CandidatesFor(p store.Paths, cfg *store.Config, q index.Query, platform string) ([]Candidate, error) {
	for _, src := range cfg.Indexes {
		if q.Index != "" && src.Name != q.Index {
			continue
		}
		one := &store.Config{Indexes: []store.Source{src}}
		offers, err := index.FindMatching(p, one, q.Name, q.Constraint, platform)
		if err != nil {
			return nil, err
		}
		if len(offers) > 0 {
			return candidates(offers), nil
		}
	}
	return nil, nil
}

func candidates(offers []index.Offer) []Candidate {
	out := make([]Candidate, len(offers))
	for i, o := range offers {
		out[i] = Candidate{Index: o.Index.Name, Meta: o.Meta, Plugin: o.Plugin}
	}
	return out
}
