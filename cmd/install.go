//go:build !plugctl_lean

package cmd

import (
	"context"
	"strings"
	"sync"

	"github.com/Masterminds/semver/v3"
	"github.com/spf13/cobra"

	"github.com/plugctl/plugctl/index"
	"github.com/plugctl/plugctl/install"
	"github.com/plugctl/plugctl/store"
	"github.com/plugctl/plugctl/verify"
)

type protocolFlags struct {
	Kind, CookieKey, CookieValue, Dispense, MTLS string
	Versions                                     []int
}

func (f *protocolFlags) bind(c *cobra.Command) {
	fl := c.Flags()
	fl.StringVar(&f.Kind, "kind", "", "protocol: auto, grpc or netrpc (default auto)")
	fl.StringVar(&f.CookieKey, "cookie-key", "", "handshake magic cookie key (default "+store.DefaultCookieKey+")")
	fl.StringVar(&f.CookieValue, "cookie-value", "", "handshake magic cookie value (default "+store.DefaultCookieValue+")")
	fl.IntSliceVar(&f.Versions, "protocol-version", nil, "handshake protocol version(s) offered (default 1)")
	fl.StringVar(&f.Dispense, "dispense", "", "name in the plugin's plugin map (default: the plugin's name)")
	fl.StringVar(&f.MTLS, "mtls", "", "transport security: auto, true or false (default auto)")
}

func (f *protocolFlags) protocol() (store.Protocol, error) {
	p := store.Protocol{
		Kind: f.Kind, CookieKey: f.CookieKey, CookieValue: f.CookieValue,
		Versions: f.Versions, Dispense: f.Dispense, MTLS: store.MTLSMode(f.MTLS),
	}
	if err := p.Validate(); err != nil {
		return p, usageErrorf("%v", err)
	}
	return p, nil
}

type installOptions struct {
	g        *Global
	Queries  []string
	Index    string
	From     string
	SHA256   string
	H1       string
	Name     string
	Version  string
	Bin      string
	Protocol protocolFlags
	Save     bool
}

func newInstallCmd(g *Global) *cobra.Command {
	o := &installOptions{g: g}
	c := &cobra.Command{
		Use:   "install NAME[@CONSTRAINT]... | --from SOURCE --sha256 HEX --name N --version V",
		Short: "Install plugins from the configured indexes, or one artifact from anywhere",
		Long: `Install the newest version matching each constraint that has an artifact for
this platform (PLUGCTL_OS/PLUGCTL_ARCH override it). Prereleases are chosen only
when the constraint names one. INDEX/NAME picks one index when several offer NAME.
The artifact's SHA-256 is checked before anything enters the store. The first
version of a plugin installed becomes active; later ones do not (see use, upgrade).`,
		Example: `  plugctl install greeter
  plugctl install greeter@^1.2 kv@1.0.0
  plugctl install team/greeter@~1.4
  plugctl install --from https://example.com/greeter_linux_amd64 --sha256 9f86d0… --name greeter --version 1.0.0
  plugctl install --from ./greeter-dir --h1 h1:2Xx… --bin greeter --name greeter --version 1.0.0`,
		RunE: func(cmd *cobra.Command, a []string) error {
			o.Queries = a
			return installRun(cmd, o)
		},
	}
	f := c.Flags()
	f.StringVar(&o.Index, "index", "", "install from this index SOURCE instead of the configured ones")
	f.StringVar(&o.From, "from", "", "install one artifact from SOURCE (URL, path or git address), outside any index")
	f.StringVar(&o.SHA256, "sha256", "", "with --from: the SHA-256 of the file SOURCE delivers (of bin, for a directory)")
	f.StringVar(&o.H1, "h1", "", "with --from: the tree hash (h1:...) of the directory SOURCE delivers, which pins every file in it (required for a directory)")
	f.StringVar(&o.Name, "name", "", "with --from: the plugin's name")
	f.StringVar(&o.Version, "version", "", "with --from: the version (semver)")
	f.StringVar(&o.Bin, "bin", "", "with --from: the executable's path inside an archive or repository")
	f.BoolVar(&o.Save, "save", false, "record what was installed in "+install.LockFileName+" (every platform the index offers)")
	o.Protocol.bind(c)
	return c
}

type installJSON struct {
	Name      string `json:"name"`
	Version   string `json:"version"`
	Index     string `json:"index,omitempty"`
	Source    string `json:"source"`
	Path      string `json:"path"`
	SHA256    string `json:"sha256"`
	Active    bool   `json:"active"`
	Installed bool   `json:"installed"` // false: it was already installed
}

func installRun(cmd *cobra.Command, o *installOptions) error {
	g := o.g
	in, err := g.Installer()
	if err != nil {
		return err
	}
	ctx, cancel := g.withTimeout(cmd.Context())
	defer cancel()

	var plans []plan
	if o.From != "" {
		if len(o.Queries) > 0 || o.Index != "" {
			return usageErrorf("install --from takes no NAME arguments and no --index")
		}
		req, err := o.fromRequest()
		if err != nil {
			return err
		}
		plans = append(plans, plan{Req: req, Lock: lockFromRequest(req)})
	} else {
		if len(o.Queries) == 0 {
			return usageErrorf("install: name at least one plugin (NAME[@CONSTRAINT]) or use --from")
		}
		if o.SHA256 != "" || o.H1 != "" || o.Name != "" || o.Version != "" || o.Bin != "" {
			return usageErrorf("--sha256, --h1, --name, --version and --bin go with --from")
		}
		if plans, err = o.indexPlans(ctx, in); err != nil {
			return err
		}
	}
	saver, err := newLockSaver(o.Save)
	if err != nil {
		return err
	}
	// What was installed is recorded even when another plugin failed.
	results, err := installAll(ctx, g, in, plans)
	if werr := saver.record(results); werr != nil && err == nil {
		err = werr
	}
	if err != nil {
		return err
	}
	if g.JSON() {
		return g.PrintJSON(installJSONs(in, results))
	}
	for _, r := range results {
		rc := r.Res.Receipt
		active, _ := in.Paths.Active(rc.Name)
		switch {
		case r.Res.Already:
			g.Printf("%s@%s is already installed\n", rc.Name, rc.Version)
		case r.Res.Activated:
			g.Printf("installed %s@%s (active)\n", rc.Name, rc.Version)
		default:
			g.Printf("installed %s@%s (active: %s; plugctl use %s@%s to switch)\n", rc.Name, rc.Version, active, rc.Name, rc.Version)
		}
	}
	if saver != nil {
		g.Infof("wrote %s\n", install.LockFileName)
	}
	return nil
}

// plan is one version to install and the lock entry that reproduces it.
type plan struct {
	Req  install.Request
	Lock install.LockedPlugin
}

type planResult struct {
	Plan plan
	Res  *install.Result
}

// maxParallelInstalls bounds the downloads one command runs at once.
const maxParallelInstalls = 4

// installAll installs every plan, several at once, and returns the results
// in plan order. On failure it returns the results that succeeded and the
// first error (in plan order); installs that succeeded stay installed.
func installAll(ctx context.Context, g *Global, in *install.Installer, plans []plan) ([]planResult, error) {
	results := make([]planResult, len(plans))
	errs := make([]error, len(plans))
	prog := newProgress(g)
	inst := *in
	inst.Fetcher = g.fetcherWithProgress(prog)
	sem := make(chan struct{}, maxParallelInstalls)
	var wg sync.WaitGroup
	for i, p := range plans {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			res, err := inst.Install(ctx, p.Req)
			results[i] = planResult{Plan: p, Res: res}
			errs[i] = err
		}()
	}
	wg.Wait()
	prog.Wait()
	var ok []planResult
	for i := range plans {
		if errs[i] != nil {
			return ok, errs[i]
		}
		ok = append(ok, results[i])
	}
	return ok, nil
}

func installJSONs(in *install.Installer, results []planResult) []installJSON {
	out := []installJSON{}
	for _, r := range results {
		rc := r.Res.Receipt
		active, _ := in.Paths.Active(rc.Name)
		out = append(out, installJSON{
			Name: rc.Name, Version: rc.Version, Index: rc.Index, Source: rc.Source,
			Path: in.Paths.Exe(rc), SHA256: rc.BinSHA256, Active: active == rc.Version, Installed: !r.Res.Already,
		})
	}
	return out
}

// lockFromRequest is the lock entry of an install outside any index: the
// one platform it was made for.
func lockFromRequest(req install.Request) install.LockedPlugin {
	return install.LockedPlugin{
		Version: req.Version, Constraint: req.Constraint, Protocol: req.Protocol,
		Platforms: map[string]install.LockedArtifact{req.Platform: {URL: req.Source, SHA256: req.SHA256, H1: req.H1, Bin: req.Bin}},
	}
}

func (o *installOptions) fromRequest() (install.Request, error) {
	if (o.SHA256 == "" && o.H1 == "") || o.Name == "" || o.Version == "" {
		return install.Request{}, usageErrorf("install --from needs --sha256 (a file) or --h1 (a directory), --name and --version")
	}
	if err := store.ValidName(o.Name); err != nil {
		return install.Request{}, err
	}
	if o.SHA256 != "" && !verify.ValidSHA256(o.SHA256) {
		return install.Request{}, usageErrorf("--sha256 %q: want 64 hex digits", o.SHA256)
	}
	if o.H1 != "" && !verify.ValidH1(o.H1) {
		return install.Request{}, usageErrorf("--h1 %q: want h1: and the base64 of a SHA-256, as plugctl prints a tree hash", o.H1)
	}
	v, err := semver.StrictNewVersion(strings.TrimPrefix(o.Version, "v"))
	if err != nil {
		return install.Request{}, usageErrorf("--version %q: not a semantic version (want MAJOR.MINOR.PATCH)", o.Version)
	}
	proto, err := o.Protocol.protocol()
	if err != nil {
		return install.Request{}, err
	}
	src, err := normalizeSource(o.From)
	if err != nil {
		return install.Request{}, err
	}
	return install.Request{
		Name: o.Name, Version: v.String(), Source: src, SHA256: strings.ToLower(o.SHA256), H1: o.H1,
		Bin: o.Bin, Platform: Platform(), Protocol: proto,
	}, nil
}

func (o *installOptions) indexPlans(ctx context.Context, in *install.Installer) ([]plan, error) {
	g := o.g
	if !o.Protocol.empty() {
		return nil, usageErrorf("protocol flags go with --from; an index says how its plugins launch")
	}
	var queries []index.Query
	for _, s := range o.Queries {
		q, err := index.ParseQuery(s)
		if err != nil {
			return nil, err
		}
		queries = append(queries, q)
	}
	var lookup func(q index.Query) ([]install.Candidate, error)
	if o.Index != "" {
		src, err := normalizeSource(o.Index)
		if err != nil {
			return nil, err
		}
		idx, meta, err := index.FetchUncached(ctx, g.Fetcher(), in.Paths, index.Source{Name: "--index", Address: src})
		if err != nil {
			return nil, err
		}
		lookup = func(q index.Query) ([]install.Candidate, error) {
			if q.Index != "" {
				return nil, usageErrorf("%s: INDEX/NAME does not go with --index", q)
			}
			if pl, ok := idx.Plugins[q.Name]; ok {
				return []install.Candidate{{Meta: meta, Plugin: pl}}, nil
			}
			return nil, nil
		}
	} else {
		_, cfg, err := g.freshConfig(ctx)
		if err != nil {
			return nil, err
		}
		if len(cfg.Indexes) == 0 {
			return nil, &exitError{code: ExitNotFound, msg: "no index is configured", hint: "plugctl index add NAME SOURCE, or install --index SOURCE"}
		}
		lookup = func(q index.Query) ([]install.Candidate, error) {
			if q.Index != "" {
				if _, ok := cfg.Lookup(q.Index); !ok {
					return nil, &index.NotFoundError{What: "index", Name: q.Index}
				}
			}
			return install.CandidatesFor(in.Paths, cfg, q, Platform())
		}
	}
	var plans []plan
	for _, q := range queries {
		cands, err := lookup(q)
		if err != nil {
			return nil, err
		}
		req, lp, err := install.ResolveLocked(q, cands, Platform())
		if err != nil {
			return nil, err
		}
		plans = append(plans, plan{Req: req, Lock: lp})
	}
	return plans, nil
}

func (f protocolFlags) empty() bool {
	return f.Kind == "" && f.CookieKey == "" && f.CookieValue == "" && f.Dispense == "" && f.MTLS == "" && len(f.Versions) == 0
}
