package cmd

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/Masterminds/semver/v3"
	"github.com/spf13/cobra"

	"github.com/plugctl/plugctl/fetch"
	"github.com/plugctl/plugctl/index"
	"github.com/plugctl/plugctl/install"
	"github.com/plugctl/plugctl/internal/handshake"
	"github.com/plugctl/plugctl/profile"
	"github.com/plugctl/plugctl/runtime"
	"github.com/plugctl/plugctl/store"
	"github.com/plugctl/plugctl/verify"
)

type protocolFlags struct {
	Kind, CookieKey, CookieValue, Dispense, MTLS, Profile string
	Versions                                              []int
}

func (f *protocolFlags) bind(c *cobra.Command) {
	fl := c.Flags()
	fl.StringVar(&f.Kind, "kind", "", "protocol: auto, grpc or netrpc (default auto)")
	fl.StringVar(&f.CookieKey, "cookie-key", "", "handshake magic cookie key (default "+handshake.DefaultCookieKey+")")
	fl.StringVar(&f.CookieValue, "cookie-value", "", "handshake magic cookie value (default "+handshake.DefaultCookieValue+")")
	fl.IntSliceVar(&f.Versions, "protocol-version", nil, "handshake protocol version(s) offered (default 1)")
	fl.StringVar(&f.Dispense, "dispense", "", "name in the plugin's plugin map (default: the plugin's name)")
	fl.StringVar(&f.MTLS, "mtls", "", "transport security: auto, true or false (default auto)")
	fl.StringVar(&f.Profile, "profile", "", "ecosystem whose handshake the plugin expects: "+strings.Join(profile.Names(), ", ")+" (plugctl profiles; explicit flags win)")
}

func (f *protocolFlags) protocol() (store.Protocol, error) {
	p := store.Protocol{
		Kind: f.Kind, CookieKey: f.CookieKey, CookieValue: f.CookieValue,
		Versions: f.Versions, Dispense: f.Dispense, MTLS: store.MTLSMode(f.MTLS), Profile: f.Profile,
	}
	// Returned unresolved, so that publish writes the profile's name into
	// the index; install resolves it (Installer.Install, the lock).
	resolved, err := profile.Resolve(p)
	if err != nil {
		return p, &exitError{code: ExitUsage, msg: fmt.Sprintf("--%v", err), hint: profilesHint}
	}
	if err := resolved.Validate(); err != nil {
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
	Force    bool
	// The schema kept with an install --from: .proto files or a protoset.
	Proto       []string
	ImportPaths []string
	Protoset    string
}

func newInstallCmd(g *Global) *cobra.Command {
	o := &installOptions{g: g}
	c := &cobra.Command{
		Use:   "install NAME[@CONSTRAINT]... | --from SOURCE --sha256 HEX --name N --version V | NAME@VERSION... --force",
		Short: "Install plugins from the configured indexes, or one artifact from anywhere",
		Long: `Install the newest version matching each constraint that has an artifact for
this platform (PLUGCTL_OS/PLUGCTL_ARCH override it). Prereleases are chosen only
when the constraint names one. INDEX/NAME picks one index when several offer NAME.
The artifact's SHA-256 is checked before anything enters the store. The first
version of a plugin installed becomes active; later ones do not (see use, upgrade).

An installed version is left alone. NAME@VERSION --force (or plugctl reinstall
NAME@VERSION) fetches it again from the source its receipt records and checks
it against the hash its receipt records, never an index, then replaces the
installed files in one step; an active version stays active. --from with
--force replaces an installed version with the one described by the flags
(other protocol flags, another source or hash).`,
		Example: `  plugctl install greeter
  plugctl install greeter@^1.2 kv@1.0.0
  plugctl install team/greeter@~1.4
  plugctl install --from https://example.com/greeter_linux_amd64 --sha256 9f86d0… --name greeter --version 1.0.0
  plugctl install --from oci://ghcr.io/acme/greeter@sha256:4c1e… --name greeter --version 1.0.0
  plugctl install --from ./greeter-dir --h1 h1:2Xx… --bin greeter --name greeter --version 1.0.0
  plugctl install greeter@1.2.0 --force     # same as plugctl reinstall greeter@1.2.0`,
		RunE: func(cmd *cobra.Command, a []string) error {
			o.Queries = a
			return installRun(cmd.Context(), o)
		},
	}
	f := c.Flags()
	f.StringVar(&o.Index, "index", "", "install from this index SOURCE instead of the configured ones")
	f.StringVar(&o.From, "from", "", "install one artifact from SOURCE (URL, path, git or oci:// registry address), outside any index")
	f.StringVar(&o.SHA256, "sha256", "", "with --from: the SHA-256 of the file SOURCE delivers (of bin, for a directory); not needed for oci://…@sha256:DIGEST")
	f.StringVar(&o.H1, "h1", "", "with --from: the tree hash (h1:...) of the directory SOURCE delivers, which pins every file in it (required for a directory)")
	f.StringVar(&o.Name, "name", "", "with --from: the plugin's name")
	f.StringVar(&o.Version, "version", "", "with --from: the version (semver)")
	f.StringVar(&o.Bin, "bin", "", "with --from: the executable's path inside an archive or repository")
	f.BoolVar(&o.Force, "force", false, "fetch NAME@VERSION again from its receipt's source; with --from, replace an installed version")
	f.BoolVar(&o.Save, "save", false, "record what was installed in "+install.LockFileName+" (every platform the index offers)")
	f.StringArrayVar(&o.Proto, "proto", nil, "with --from: keep the gRPC schema compiled from this .proto file with the version (repeatable)")
	f.StringArrayVar(&o.ImportPaths, "import-path", nil, "with --proto: directory to resolve imports from (repeatable)")
	f.StringVar(&o.Protoset, "protoset", "", "with --from: keep the gRPC schema in this FileDescriptorSet file with the version")
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

func installRun(ctx context.Context, o *installOptions) error {
	g := o.g
	in, err := g.Installer()
	if err != nil {
		return err
	}
	ctx, cancel := g.withTimeout(ctx)
	defer cancel()

	var plans []install.Plan
	if o.From != "" {
		if len(o.Queries) > 0 || o.Index != "" {
			return usageErrorf("install --from takes no NAME arguments and no --index")
		}
		req, err := o.fromRequest()
		if err != nil {
			return err
		}
		if req.SchemaSet, err = o.schemaSet(ctx); err != nil {
			return err
		}
		if r, err := in.Paths.ReadReceipt(req.Name, req.Version); err == nil && !o.Force {
			if d := install.Differences(r, req); len(d) > 0 {
				return &exitError{code: ExitError,
					msg:  fmt.Sprintf("%s@%s is already installed, with other settings than these flags: %s", req.Name, req.Version, strings.Join(d, ", ")),
					hint: "add --force to replace it with what the flags say (the same command with --force)"}
			}
		}
		plans = append(plans, install.Plan{Req: req, Lock: install.RequestEntry(req), Replace: o.Force})
	} else if o.Force {
		if o.Index != "" || !o.Protocol.empty() || o.SHA256 != "" || o.Name != "" || o.Version != "" || o.Bin != "" {
			return usageErrorf("install NAME@VERSION --force fetches what the receipt records: it takes no --index, --sha256, --name, --version, --bin or protocol flags (use --from for those)")
		}
		if plans, err = reinstallPlans(in, o.Queries); err != nil {
			return err
		}
	} else {
		if len(o.Queries) == 0 {
			return usageErrorf("install: name at least one plugin (NAME[@CONSTRAINT]) or use --from")
		}
		if o.SHA256 != "" || o.H1 != "" || o.Name != "" || o.Version != "" || o.Bin != "" || len(o.Proto) > 0 || len(o.ImportPaths) > 0 || o.Protoset != "" {
			return usageErrorf("--sha256, --h1, --name, --version, --bin, --proto, --import-path and --protoset go with --from (an index names its plugins' schemas)")
		}
		if plans, err = o.indexPlans(ctx, in); err != nil {
			return err
		}
	}
	saver, err := install.NewLockSaver(install.LockFileName, o.Save)
	if err != nil {
		return err
	}
	// What was installed is recorded even when another plugin failed.
	results, err := g.installPlans(ctx, in, plans)
	if werr := saver.Record(results); werr != nil && err == nil {
		err = werr
	}
	if err != nil {
		if o.From != "" {
			return fromError(err)
		}
		return err
	}
	if g.JSON() {
		return g.PrintJSON(installJSONs(in, results))
	}
	for _, r := range results {
		rc := r.Res.Receipt
		active, _ := in.Paths.Active(rc.Name)
		switch {
		case r.Res.Replaced:
			state := "not active"
			if active == rc.Version {
				state = "active"
			}
			g.Printf("reinstalled %s@%s from %s (%s)\n", rc.Name, rc.Version, rc.Source, state)
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

func installJSONs(in *install.Installer, results []install.PlanResult) []installJSON {
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

func (o *installOptions) fromRequest() (install.Request, error) {
	var missing []string
	pin := o.SHA256 + o.H1
	if pin == "" && fetch.OCIPinned(o.From) {
		pin = "pinned by digest"
	}
	for _, f := range []struct{ flag, v string }{{"--sha256 (--h1 for a directory)", pin}, {"--name", o.Name}, {"--version", o.Version}} {
		if f.v == "" {
			missing = append(missing, f.flag)
		}
	}
	if len(missing) > 0 {
		if fetch.IsOCI(o.From) && len(missing) == 1 && pin == "" {
			return install.Request{}, usageErrorf("install --from %s needs --sha256, or a registry address pinned by digest (oci://REGISTRY/REPOSITORY@sha256:DIGEST)", o.From)
		}
		return install.Request{}, usageErrorf("install --from needs %s", joinAnd(missing))
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
	// The lock keeps the resolved values (checked by protocol).
	proto, _ = profile.Resolve(proto)
	src, err := normalizeSource(o.From)
	if err != nil {
		return install.Request{}, err
	}
	return install.Request{
		Name: o.Name, Version: v.String(), Source: src, SHA256: strings.ToLower(o.SHA256), H1: o.H1,
		Bin: o.Bin, Platform: Platform(), Protocol: proto,
	}, nil
}

// joinAnd joins words as "a", "a and b", "a, b and c".
func joinAnd(words []string) string {
	if len(words) <= 1 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " and " + words[len(words)-1]
}

// fromError gives an error of install --from the hint that fits an
// artifact given by address and hash: there is no index to blame.
func fromError(err error) error {
	var mm *verify.MismatchError
	if errors.As(err, &mm) && !mm.Installed {
		if mm.Tree {
			return &exitError{code: ExitIntegrity, msg: err.Error(), hint: "the files at --from are not those --h1 names: check both, and do not use them until they agree"}
		}
		return &exitError{code: ExitIntegrity, msg: err.Error(), hint: "the bytes at --from are not those --sha256 names: check both, and do not use the file until they agree"}
	}
	return err
}

// reinstallPlans are the plans of reinstall NAME@VERSION... (and install
// NAME@VERSION... --force): each an installed version, fetched again from
// its receipt.
func reinstallPlans(in *install.Installer, targets []string) ([]install.Plan, error) {
	if len(targets) == 0 {
		return nil, usageErrorf("name at least one installed version: NAME@VERSION")
	}
	return install.ReinstallPlans(in.Paths, targets)
}

// schemaSet compiles or reads the schema given with --from, before anything
// is fetched: a schema that does not compile installs nothing.
func (o *installOptions) schemaSet(ctx context.Context) ([]byte, error) {
	if len(o.Proto) == 0 && o.Protoset == "" {
		if len(o.ImportPaths) > 0 {
			return nil, usageErrorf("--import-path goes with --proto")
		}
		return nil, nil
	}
	if len(o.Proto) > 0 && o.Protoset != "" {
		return nil, usageErrorf("give the schema with --proto or --protoset, not both")
	}
	set, err := runtime.SchemaSet(ctx, o.Proto, o.ImportPaths, o.Protoset)
	if err != nil {
		return nil, usageErrorf("%v", err)
	}
	return set, nil
}

// indexPlans parses the queries and reads --index (else the configured
// indexes) for install.IndexPlans (install.ConfigPlans).
func (o *installOptions) indexPlans(ctx context.Context, in *install.Installer) ([]install.Plan, error) {
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
	if o.Index != "" {
		src, err := normalizeSource(o.Index)
		if err != nil {
			return nil, err
		}
		idx, meta, err := index.FetchUncached(ctx, g.Fetcher(), in.Paths, store.Source{Name: "--index", Address: src})
		if err != nil {
			return nil, err
		}
		return install.IndexPlans(idx, meta, queries, Platform())
	}
	_, cfg, err := g.freshConfig(ctx)
	if err != nil {
		return nil, err
	}
	if len(cfg.Indexes) == 0 {
		return nil, &exitError{code: ExitNotFound, msg: "no index is configured", hint: "plugctl index add NAME SOURCE, or install --index SOURCE"}
	}
	return install.ConfigPlans(in.Paths, cfg, queries, Platform())
}

func (f protocolFlags) empty() bool {
	return f.Kind == "" && f.CookieKey == "" && f.CookieValue == "" && f.Dispense == "" && f.MTLS == "" && f.Profile == "" && len(f.Versions) == 0
}
