package install

import (
	"github.com/plugctl/plugctl/index"
	"github.com/plugctl/plugctl/store"
)

// ConfigPlans resolves each query against cfg's indexes (CandidatesFor) for
// platform into the plan that installs it, with its lock entry. A query's
// INDEX/ must name a configured index (*index.NotFoundError).
func ConfigPlans(p store.Paths, cfg *store.Config, queries []index.Query, platform string) ([]Plan, error) {
	return resolvePlans(queries, platform, func(q index.Query) ([]Candidate, error) {
		if q.Index != "" {
			if _, ok := cfg.Lookup(q.Index); !ok {
				return nil, &index.NotFoundError{What: "index", Name: q.Index}
			}
		}
		return CandidatesFor(p, cfg, q, platform)
	})
}

// IndexPlans resolves each query against the one index idx, read from
// meta's address (install --index), for platform. A query naming an index
// (INDEX/NAME) is a usage error (index.ErrUsage).
func IndexPlans(idx *index.Index, meta *index.Meta, queries []index.Query, platform string) ([]Plan, error) {
	return resolvePlans(queries, platform, func(q index.Query) ([]Candidate, error) {
		if q.Index != "" {
			return nil, index.Usagef("%s: INDEX/NAME does not go with --index", q)
		}
		if pl, ok := idx.Plugins[q.Name]; ok {
			return []Candidate{{Meta: meta, Plugin: pl}}, nil
		}
		return nil, nil
	})
}

// resolvePlans resolves the queries, in order, against what lookup offers
// for each; the first failure is returned.
func resolvePlans(queries []index.Query, platform string, lookup func(index.Query) ([]Candidate, error)) ([]Plan, error) {
	var plans []Plan
	for _, q := range queries {
		cands, err := lookup(q)
		if err != nil {
			return nil, err
		}
		req, lp, err := ResolveLocked(q, cands, platform)
		if err != nil {
			return nil, err
		}
		plans = append(plans, Plan{Req: req, Lock: lp})
	}
	return plans, nil
}

// ReinstallPlans are the plans of reinstall NAME@VERSION... (and install
// NAME@VERSION... --force): each an installed version, fetched again from
// its receipt. A target that is not NAME@VERSION (store.ErrBadRef) or not
// installed (its receipt's read error) fails them all.
func ReinstallPlans(p store.Paths, targets []string) ([]Plan, error) {
	var plans []Plan
	for _, t := range targets {
		name, version, err := store.ParseRef(t, true)
		if err != nil {
			return nil, err
		}
		if _, err := p.ReadReceipt(name, version); err != nil {
			return nil, err
		}
		plans = append(plans, Plan{Req: Request{Name: name, Version: version}, Reinstall: true})
	}
	return plans, nil
}
