package cmd

import (
	"strings"

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
	Name     string
	Version  string
	Bin      string
	Protocol protocolFlags
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
  plugctl install --from https://example.com/greeter_linux_amd64 --sha256 9f86d0… --name greeter --version 1.0.0`,
		RunE: func(cmd *cobra.Command, a []string) error {
			o.Queries = a
			return installRun(cmd, o)
		},
	}
	f := c.Flags()
	f.StringVar(&o.Index, "index", "", "install from this index SOURCE instead of the configured ones")
	f.StringVar(&o.From, "from", "", "install one artifact from SOURCE (URL, path or git address), outside any index")
	f.StringVar(&o.SHA256, "sha256", "", "with --from: the artifact's SHA-256 (required)")
	f.StringVar(&o.Name, "name", "", "with --from: the plugin's name")
	f.StringVar(&o.Version, "version", "", "with --from: the version (semver)")
	f.StringVar(&o.Bin, "bin", "", "with --from: the executable's path inside an archive or repository")
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

	var reqs []install.Request
	if o.From != "" {
		if len(o.Queries) > 0 || o.Index != "" {
			return usageErrorf("install --from takes no NAME arguments and no --index")
		}
		req, err := o.fromRequest()
		if err != nil {
			return err
		}
		reqs = append(reqs, req)
	} else {
		if len(o.Queries) == 0 {
			return usageErrorf("install: name at least one plugin (NAME[@CONSTRAINT]) or use --from")
		}
		if o.SHA256 != "" || o.Name != "" || o.Version != "" || o.Bin != "" {
			return usageErrorf("--sha256, --name, --version and --bin go with --from")
		}
		if reqs, err = o.indexRequests(cmd, in); err != nil {
			return err
		}
	}

	var out []installJSON
	for _, req := range reqs {
		res, err := in.Install(ctx, req)
		if err != nil {
			return err
		}
		r := res.Receipt
		active, _ := in.Paths.Active(r.Name)
		out = append(out, installJSON{
			Name: r.Name, Version: r.Version, Index: r.Index, Source: r.Source,
			Path: in.Paths.Exe(r), SHA256: r.BinSHA256, Active: active == r.Version, Installed: !res.Already,
		})
		if g.JSON() {
			continue
		}
		switch {
		case res.Already:
			g.Printf("%s@%s is already installed\n", r.Name, r.Version)
		case res.Activated:
			g.Printf("installed %s@%s (active)\n", r.Name, r.Version)
		default:
			g.Printf("installed %s@%s (active: %s; plugctl use %s@%s to switch)\n", r.Name, r.Version, active, r.Name, r.Version)
		}
	}
	if g.JSON() {
		return g.PrintJSON(out)
	}
	return nil
}

func (o *installOptions) fromRequest() (install.Request, error) {
	if o.SHA256 == "" || o.Name == "" || o.Version == "" {
		return install.Request{}, usageErrorf("install --from needs --sha256, --name and --version")
	}
	if err := store.ValidName(o.Name); err != nil {
		return install.Request{}, err
	}
	if !verify.ValidSHA256(o.SHA256) {
		return install.Request{}, usageErrorf("--sha256 %q: want 64 hex digits", o.SHA256)
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
		Name: o.Name, Version: v.String(), Source: src, SHA256: strings.ToLower(o.SHA256),
		Bin: o.Bin, Platform: Platform(), Protocol: proto,
	}, nil
}

func (o *installOptions) indexRequests(cmd *cobra.Command, in *install.Installer) ([]install.Request, error) {
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
	var oneOff map[string]install.Candidate
	if o.Index != "" {
		src, err := normalizeSource(o.Index)
		if err != nil {
			return nil, err
		}
		ctx, cancel := g.withTimeout(cmd.Context())
		defer cancel()
		idx, meta, err := index.FetchUncached(ctx, g.Fetcher(), in.Paths, index.Source{Name: "--index", Address: src})
		if err != nil {
			return nil, err
		}
		oneOff = make(map[string]install.Candidate)
		for name, pl := range idx.Plugins {
			oneOff[name] = install.Candidate{Meta: meta, Plugin: pl}
		}
	}
	cfg, err := g.Config()
	if err != nil {
		return nil, err
	}
	if o.Index == "" && len(cfg.Indexes) == 0 {
		return nil, &exitError{code: ExitNotFound, msg: "no index is configured", hint: "plugctl index add NAME SOURCE, or install --index SOURCE"}
	}
	var reqs []install.Request
	for _, q := range queries {
		var cands []install.Candidate
		if o.Index != "" {
			if c, ok := oneOff[q.Name]; ok {
				cands = []install.Candidate{c}
			}
			q.Index = ""
		} else {
			if q.Index != "" {
				if _, ok := cfg.Lookup(q.Index); !ok {
					return nil, &index.NotFoundError{What: "index", Name: q.Index}
				}
			}
			if cands, err = install.Candidates(in.Paths, cfg, q.Name); err != nil {
				return nil, err
			}
		}
		req, err := install.Resolve(q, cands, Platform())
		if err != nil {
			return nil, err
		}
		reqs = append(reqs, req)
	}
	return reqs, nil
}

func (f protocolFlags) empty() bool {
	return f.Kind == "" && f.CookieKey == "" && f.CookieValue == "" && f.Dispense == "" && f.MTLS == "" && len(f.Versions) == 0
}
