package publish

import (
	"context"
	"path/filepath"
	"time"

	"github.com/plugctl/plugctl/fetch"
	"github.com/plugctl/plugctl/index"
	"github.com/plugctl/plugctl/store"
)

// MirrorRequest says which configured indexes MirrorIndexes copies, and
// where.
type MirrorRequest struct {
	// Dest is a directory, or oci://REGISTRY/PREFIX for a registry.
	Dest  string
	Names []string // configured indexes to mirror; none: all of them
	// Key, when set, is the minisign secret key that signs the rewritten
	// indexes, whose password Password gives.
	Key      string
	Password PasswordFunc
	// Options apply to every index; Sign is set from Key, Expires
	// defaults to DefaultSignedTTL.
	Options MirrorOptions
	// Start, when set, is called before each index is mirrored when there
	// are several; Done after each one is.
	Start func(name string)
	Done  func(*MirrorIndex)
}

// Mirrored is what MirrorIndexes did.
type Mirrored struct {
	Dir     string         `json:"dir"` // the absolute directory, or the registry prefix
	Indexes []*MirrorIndex `json:"indexes"`
}

// MirrorIndexes copies the configured indexes r names, from their cached
// copies in p, and their artifacts into r.Dest: one index to
// DIR/index.yaml, several each to DIR/<index-name>/index.yaml (Mirror), or
// into a registry (MirrorOCI). Requests that do not fit are an error
// wrapping index.ErrUsage, before anything is copied; an index name not
// configured is an *index.NotFoundError.
func MirrorIndexes(ctx context.Context, p store.Paths, cfg *store.Config, r MirrorRequest) (*Mirrored, error) {
	o := r.Options
	for _, pl := range o.Platforms {
		if !index.KnownPlatform(pl) {
			return nil, index.Usagef("--platform %q: want os/arch from Go's known list (go tool dist list)", pl)
		}
	}
	if o.Latest < 0 {
		return nil, index.Usagef("--latest %d: want a number of versions, 1 or more", o.Latest)
	}
	if o.Expires != 0 && r.Key == "" {
		return nil, index.Usagef("--expires goes with --key")
	}
	if o.Expires <= 0 {
		o.Expires = DefaultSignedTTL
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	srcs, err := index.Select(cfg, r.Names)
	if err != nil {
		return nil, err
	}
	if len(srcs) == 0 {
		return nil, index.Usagef("no index configured to mirror (plugctl index add NAME SOURCE)")
	}
	toRegistry := fetch.IsOCI(r.Dest)
	out := &Mirrored{Dir: r.Dest, Indexes: []*MirrorIndex{}}
	if toRegistry {
		if _, err := fetch.OCIRepository(r.Dest); err != nil {
			return nil, index.Usagef("%v", err)
		}
	} else {
		var err error
		if out.Dir, err = filepath.Abs(r.Dest); err != nil {
			return nil, err
		}
	}
	if r.Key != "" {
		var err error
		if o.Sign, err = Signer(r.Key, r.Password); err != nil {
			return nil, index.Usagef("--key: %v", err)
		}
	}
	for _, s := range srcs {
		c, err := index.LoadCached(p, s, o.Now)
		if err != nil {
			return nil, err
		}
		sub := ""
		if len(srcs) > 1 {
			sub = s.Name
			if r.Start != nil {
				r.Start(s.Name)
			}
		}
		msrc := MirrorSource{Name: s.Name, Address: c.Meta.Source, Raw: c.Raw, Sig: c.Sig, Signed: len(s.Keys) > 0}
		var res *MirrorIndex
		if toRegistry {
			tmpRoot, terr := p.EnsureTmp()
			if terr != nil {
				return nil, terr
			}
			res, err = MirrorOCI(ctx, tmpRoot, r.Dest, msrc, o)
		} else {
			res, err = Mirror(ctx, out.Dir, sub, msrc, o)
		}
		if err != nil {
			return nil, err
		}
		out.Indexes = append(out.Indexes, res)
		if r.Done != nil {
			r.Done(res)
		}
	}
	return out, nil
}
