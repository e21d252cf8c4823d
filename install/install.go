package install

import (
	"github.com/plugctl/plugctl/profile"

	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/gofrs/flock"

	"github.com/plugctl/plugctl/fetch"
	"github.com/plugctl/plugctl/store"
	"github.com/plugctl/plugctl/verify"
)

// Installer installs versions into one home.
type Installer struct {
	Paths   store.Paths
	Fetcher *fetch.Fetcher
	Limits  Limits
	// Hook, when set, is called at named stages of an install ("fetched",
	// "staged", "committed") and of a removal ("activated": current moved,
	// "discarded": a version left the store); tests use it to stop or
	// inspect a command midway.
	Hook func(stage string)
	// FetcherFor, when set, gives each plan of InstallPlans its own
	// fetcher (a progress bar per artifact).
	FetcherFor FetcherFunc
}

// Request is one version to install.
type Request struct {
	Name       string
	Version    string // canonical semver
	Constraint string // recorded in the receipt, for upgrade
	Index      string // index name; "" for --from
	Source     string // absolute address of the artifact
	SHA256     string // of the file Source delivers, or of Bin for a directory source
	// H1 is the tree hash (verify.TreeHash) of what a directory source
	// delivers: required for one, since SHA256 covers only its Bin. For a
	// file source it is optional and checked against the installed tree.
	H1       string
	Bin      string // entry point inside an archive or directory
	Platform string // os/arch
	Protocol store.Protocol
	// SchemaSource is the absolute address of protocol.schema, if any.
	SchemaSource string
	// SchemaSet is a schema (a FileDescriptorSet) given with the install
	// itself (install --from --proto/--protoset), kept like a fetched
	// one; it goes without SchemaSource.
	SchemaSet []byte
}

// Result says what Install did.
type Result struct {
	Receipt   *store.Receipt
	Already   bool // the version was installed before; nothing changed
	Activated bool // it became the active version
	Replaced  bool // an installed version's files were replaced (Replace)
}

// ErrBadVersion is wrapped when a request's version is not a strict
// semantic version.
var ErrBadVersion = errors.New("invalid version")

// ErrBadArtifact is wrapped when an artifact is not usable as a plugin
// (no entry point, entry point not a file).
var ErrBadArtifact = errors.New("unusable artifact")

// Install installs req. A version already installed is left alone. The
// store is changed only by the final rename (and activation); on any error
// it is as it was.
func (in *Installer) Install(ctx context.Context, req Request) (*Result, error) {
	if err := store.ValidName(req.Name); err != nil {
		return nil, err
	}
	// The version names directories (and a lock file): one that is not
	// semver, such as "../x" from a hostile plugctl.lock, could reach
	// outside the store, where a directory without a receipt is replaced.
	if _, err := semver.StrictNewVersion(req.Version); err != nil {
		return nil, fmt.Errorf("install %s@%s: %w: not a semantic version (want MAJOR.MINOR.PATCH)", req.Name, req.Version, ErrBadVersion)
	}
	what := req.Name + "@" + req.Version
	if r, err := in.Paths.ReadReceipt(req.Name, req.Version); err == nil {
		return in.activateFirst(ctx, &Result{Receipt: r, Already: true})
	}
	unlock, err := in.lock(ctx, req.Name, req.Version)
	if err != nil {
		return nil, fmt.Errorf("install %s: %w", what, err)
	}
	defer unlock()
	// Another process may have installed it while we waited.
	if r, err := in.Paths.ReadReceipt(req.Name, req.Version); err == nil {
		return in.activateFirst(ctx, &Result{Receipt: r, Already: true})
	}
	in.cleanLeftovers(req.Name, req.Version)
	r, err := in.stageAndCommit(ctx, req, false)
	if err != nil {
		return nil, fmt.Errorf("install %s: %w", what, err)
	}
	return in.activateFirst(ctx, &Result{Receipt: r})
}

// activateFirst makes res's version active when the plugin has no active
// version: after a first install, and after an install killed between its
// commit and its activation, which left the version installed but nothing
// active.
func (in *Installer) activateFirst(ctx context.Context, res *Result) (*Result, error) {
	req := res.Receipt
	err := in.withNameLock(ctx, req.Name, func() error {
		active, err := in.Paths.Active(req.Name)
		if err != nil {
			return err
		}
		if active != "" {
			return nil
		}
		// A removal may have taken the version since it was committed.
		if _, err := in.Paths.ReadReceipt(req.Name, req.Version); err != nil {
			return fmt.Errorf("activate %s@%s: %w", req.Name, req.Version, err)
		}
		if err := in.Paths.SetActive(req.Name, req.Version); err != nil {
			return err
		}
		res.Activated = true
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

func (in *Installer) hook(stage string) {
	if in.Hook != nil {
		in.Hook(stage)
	}
}

// stageAndCommit builds req's version in tmp/ and renames it into the
// store. With replace, an installed version is exchanged for the new one in
// one step (see replaceDir); without, only a directory without a receipt
// (a leftover) is replaced.
func (in *Installer) stageAndCommit(ctx context.Context, req Request, replace bool) (*store.Receipt, error) {
	if s := req.Protocol.Schema; s != nil && req.SchemaSet == nil && req.SchemaSource == "" {
		return nil, &SchemaUnavailableError{Name: req.Name, Version: req.Version, SHA256: s.SHA256}
	}
	if req.SchemaSet != nil && req.Protocol.Schema != nil {
		if err := checkSchemaSet(req.Name+"@"+req.Version, req.Source, req.SchemaSet, req.Protocol.Schema); err != nil {
			return nil, err
		}
	}
	tmpRoot, err := in.Paths.EnsureTmp()
	if err != nil {
		return nil, err
	}
	stage, err := os.MkdirTemp(tmpRoot, stagePrefix(req.Name, req.Version))
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(stage)
	vdir := filepath.Join(stage, "version")
	pkg := filepath.Join(vdir, "pkg")
	if err := os.MkdirAll(vdir, 0o755); err != nil {
		return nil, err
	}

	bin, fres, err := in.fetchInto(ctx, req, stage, pkg)
	if err != nil {
		return nil, err
	}
	in.hook("fetched")
	exe := filepath.Join(pkg, filepath.FromSlash(bin))
	fi, err := os.Lstat(exe)
	if err != nil || !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: entry point %q is not a file in the artifact (set bin to the executable's path)", ErrBadArtifact, bin)
	}
	if err := os.Chmod(exe, 0o755); err != nil {
		return nil, err
	}
	// The identity record lets the first launch skip hashing the
	// executable again (the rename into the store keeps its identity).
	binSum, err := verify.HashExecutable(exe, filepath.Join(vdir, verify.RecordFile))
	if err != nil {
		return nil, err
	}
	dir := IsDirSource(req.Source, req.Bin)
	if dir && req.SHA256 != "" && !strings.EqualFold(binSum, req.SHA256) {
		return nil, &verify.MismatchError{What: req.Name + "@" + req.Version + " " + bin, Source: req.Source, Want: req.SHA256, Got: binSum}
	}
	tree, err := verify.TreeHash(pkg)
	if err != nil {
		return nil, fmt.Errorf("hash installed tree: %w", err)
	}
	if dir && req.H1 == "" {
		return nil, &verify.UnpinnedError{What: req.Name + "@" + req.Version, Source: req.Source, TreeHash: tree}
	}
	if req.H1 != "" && tree != req.H1 {
		return nil, &verify.MismatchError{What: req.Name + "@" + req.Version, Source: req.Source, Want: req.H1, Got: tree, Tree: true}
	}
	// The receipt keeps a profile's resolved values beside its name.
	proto, err := profile.Resolve(req.Protocol)
	if err != nil {
		return nil, err
	}
	if req.SchemaSet != nil {
		dst := filepath.Join(vdir, SchemaFile)
		if err := os.WriteFile(dst, req.SchemaSet, 0o644); err != nil {
			return nil, fmt.Errorf("schema: %w", err)
		}
		sum, err := verify.FileSHA256(dst)
		if err != nil {
			return nil, fmt.Errorf("schema: %w", err)
		}
		proto.Schema = &store.Schema{SHA256: sum, Path: SchemaFile}
	} else if req.SchemaSource != "" && proto.Schema != nil {
		if err := in.fetchSchema(ctx, req, vdir); err != nil {
			return nil, err
		}
		s := *proto.Schema
		s.Path = SchemaFile
		// The absolute address: a reinstall has no index to resolve a
		// relative one against.
		s.URL = req.SchemaSource
		proto.Schema = &s
	}
	r := &store.Receipt{
		Schema:         store.ReceiptSchema,
		Name:           req.Name,
		Version:        req.Version,
		Constraint:     req.Constraint,
		Index:          req.Index,
		Source:         req.Source,
		ArtifactSHA256: strings.ToLower(fres.SHA256),
		OCIManifest:    fres.OCIManifest,
		OCILayer:       fres.OCILayer,
		Bin:            bin,
		ArtifactBin:    req.Bin,
		BinSHA256:      binSum,
		TreeHash:       tree,
		Platform:       req.Platform,
		Protocol:       proto,
		InstalledAt:    time.Now().UTC().Truncate(time.Second),
	}
	b, err := store.MarshalReceipt(r)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(vdir, "receipt.json"), b, 0o644); err != nil {
		return nil, err
	}
	in.hook("staged")
	err = in.withNameLock(ctx, req.Name, func() error {
		if err := os.MkdirAll(in.Paths.PluginDir(req.Name), 0o755); err != nil {
			return err
		}
		dst := in.Paths.VersionDir(req.Name, req.Version)
		if replace {
			if _, err := os.Stat(dst); err == nil {
				return in.replaceDir(vdir, dst, req.Name)
			}
		}
		// A directory without a receipt is a leftover (a crash of an older
		// plugctl, or a hand-made directory): it is not installed, so
		// replace it.
		if _, err := os.Stat(dst); err == nil {
			if err := os.RemoveAll(dst); err != nil {
				return err
			}
		}
		if err := os.Rename(vdir, dst); err != nil {
			return fmt.Errorf("commit to store: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	in.hook("committed")
	return r, nil
}

// SchemaFile is where a version's verified gRPC schema is kept, beside pkg/.
const SchemaFile = "schema.protoset"

// SchemaUnavailableError is a version whose protocol names a gRPC schema
// that cannot be had for an install: one given with install --from
// --proto/--protoset has no address to fetch it from again, and neither a
// lock entry's schemaSet nor an intact kept copy holds it.
type SchemaUnavailableError struct {
	Name, Version string
	SHA256        string // of the schema the version needs
}

func (e *SchemaUnavailableError) Error() string {
	return fmt.Sprintf("%s@%s needs the gRPC schema given with its install (sha256 %s, from --proto or --protoset), which has no address to fetch it from again: no intact copy is at hand (the store's is missing or changed, and no %s entry carries it)", e.Name, e.Version, e.SHA256, LockFileName)
}

// schemaSum is the SHA-256 of a schema set, as receipts and locks record it.
func schemaSum(set []byte) string {
	sum, _ := verify.ReaderSHA256(bytes.NewReader(set))
	return sum
}

// checkSchemaSet checks the schema set of what (from source) against the
// SHA-256 recorded for it: an error wrapping *verify.MismatchError when it
// differs or none is recorded.
func checkSchemaSet(what, source string, set []byte, want *store.Schema) error {
	got := schemaSum(set)
	if want == nil || !strings.EqualFold(got, want.SHA256) {
		w := "(none recorded)"
		if want != nil && want.SHA256 != "" {
			w = want.SHA256
		}
		return fmt.Errorf("schema: %w", &verify.MismatchError{What: what + " schema", Source: source, Want: w, Got: got})
	}
	return nil
}

// keptSchema returns r's schema as kept in its version directory, when it
// is there and hashes to what r records.
func (in *Installer) keptSchema(r *store.Receipt) ([]byte, bool) {
	s := r.Protocol.Schema
	if s == nil || s.Path == "" {
		return nil, false
	}
	b, err := store.ReadFileMax(filepath.Join(in.Paths.VersionDir(r.Name, r.Version), SchemaFile), MaxLockBytes)
	if err != nil || checkSchemaSet(r.Name+"@"+r.Version, "", b, s) != nil {
		return nil, false
	}
	return b, true
}

func (in *Installer) fetchSchema(ctx context.Context, req Request, vdir string) error {
	dst := filepath.Join(vdir, SchemaFile)
	res, err := in.Fetcher.File(ctx, req.SchemaSource, dst)
	if err != nil {
		return fmt.Errorf("schema: %w", err)
	}
	if !strings.EqualFold(res.SHA256, req.Protocol.Schema.SHA256) {
		return &verify.MismatchError{What: req.Name + "@" + req.Version + " schema", Source: req.SchemaSource, Want: req.Protocol.Schema.SHA256, Got: res.SHA256}
	}
	return nil
}

// fetchInto fetches req.Source and lays it out under pkg, returning the
// entry point's slash-separated path inside pkg and what was fetched (for a
// directory source, only the hash of its entry point).
func (in *Installer) fetchInto(ctx context.Context, req Request, stage, pkg string) (string, fetch.Result, error) {
	if IsDirSource(req.Source, req.Bin) {
		if req.Bin == "" {
			return "", fetch.Result{}, fmt.Errorf("%w: %s is a directory: bin must name the executable in it", ErrBadArtifact, req.Source)
		}
		if err := in.Fetcher.Dir(ctx, req.Source, pkg); err != nil {
			return "", fetch.Result{}, err
		}
		bin, err := cleanBin(req.Bin)
		return bin, fetch.Result{SHA256: strings.ToLower(req.SHA256)}, err
	}
	file := ArtifactFileName(req.Source)
	if fetch.IsOCI(req.Source) {
		// A registry layer is chosen by this name when a manifest holds
		// several; its own title then says whether it is an archive.
		file = req.Name
	}
	dl := filepath.Join(stage, "download")
	if err := os.Mkdir(dl, 0o700); err != nil {
		return "", fetch.Result{}, err
	}
	dlFile := filepath.Join(dl, file)
	res, err := in.Fetcher.File(ctx, req.Source, dlFile)
	if err != nil {
		return "", res, err
	}
	switch {
	case req.SHA256 == "" && fetch.OCIPinned(req.Source):
		// The manifest digest pinned the layer's digest, which fetch
		// checked the bytes against.
	case req.SHA256 == "":
		// Fetched to say so, not unpacked or kept.
		return "", res, fmt.Errorf("%s@%s: %s delivers a file, which is pinned by its sha256 (%s), and none is given: %w", req.Name, req.Version, req.Source, res.SHA256, verify.ErrUnpinned)
	case !strings.EqualFold(res.SHA256, req.SHA256):
		return "", res, &verify.MismatchError{What: req.Name + "@" + req.Version, Source: req.Source, Want: req.SHA256, Got: res.SHA256}
	}
	if res.Name != "" {
		file = SafeFileName(res.Name)
	}
	if IsArchive(file) {
		if err := os.Mkdir(pkg, 0o755); err != nil {
			return "", res, err
		}
		if err := Extract(dlFile, file, pkg, in.Limits); err != nil {
			return "", res, err
		}
		if req.Bin != "" {
			bin, err := cleanBin(req.Bin)
			return bin, res, err
		}
		bin, err := soleEntry(pkg, req.Name)
		return bin, res, err
	}
	if err := os.Mkdir(pkg, 0o755); err != nil {
		return "", res, err
	}
	if err := os.Rename(dlFile, filepath.Join(pkg, req.Name)); err != nil {
		return "", res, err
	}
	return req.Name, res, nil
}

// soleEntry picks the entry point of an archive that does not name one: a
// file called like the plugin, else the only regular file.
func soleEntry(pkg, name string) (string, error) {
	if fi, err := os.Stat(filepath.Join(pkg, name)); err == nil && fi.Mode().IsRegular() {
		return name, nil
	}
	var files []string
	err := filepath.WalkDir(pkg, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			rel, _ := filepath.Rel(pkg, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		return "", err
	}
	if len(files) == 1 {
		return files[0], nil
	}
	return "", fmt.Errorf("%w: the archive holds %d files and the index names no bin: set bin to the executable's path in the archive", ErrBadArtifact, len(files))
}

func cleanBin(bin string) (string, error) {
	c := path.Clean(strings.ReplaceAll(bin, "\\", "/"))
	if c == "." || strings.HasPrefix(c, "/") || c == ".." || strings.HasPrefix(c, "../") {
		return "", fmt.Errorf("%w: bin %q must be a relative path inside the artifact", ErrBadArtifact, bin)
	}
	return c, nil
}

// IsDirSource reports whether addr delivers a directory: a git address
// with a bin (the repository, or a //subdirectory of it, unless that names
// an archive), or a local directory. A git address without bin names one
// file in the repository, like a relative URL in an index served from git.
func IsDirSource(addr, bin string) bool {
	if fetch.IsGit(addr) {
		return bin != "" && !IsArchive(ArtifactFileName(addr))
	}
	p := strings.TrimPrefix(addr, "file://")
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// ArtifactFileName is the last element of addr's path, which says whether
// it is an archive.
func ArtifactFileName(addr string) string {
	p := addr
	if u, err := url.Parse(addr); err == nil && u.Scheme != "" && u.Path != "" {
		p = u.Path
	} else if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	base := path.Base(strings.ReplaceAll(p, "\\", "/"))
	if fetch.IsOCI(addr) {
		// REPOSITORY:TAG or REPOSITORY@DIGEST: the repository's last name.
		base, _, _ = strings.Cut(base, "@")
		base, _, _ = strings.Cut(base, ":")
	}
	if base == "." || base == "/" || base == "" || base == ".." {
		return "artifact"
	}
	return base
}

func stagePrefix(name, version string) string { return name + "@" + version + "." }

// lock takes the per-version lock; several processes may install into one
// home, and the one that waits finds the version installed afterwards.
func (in *Installer) lock(ctx context.Context, name, version string) (func(), error) {
	if err := os.MkdirAll(in.Paths.Locks(), 0o755); err != nil {
		return nil, err
	}
	fl := flock.New(in.Paths.LockFile(name, version))
	ok, err := fl.TryLockContext(ctx, 50*time.Millisecond)
	if err != nil && ctx.Err() == nil {
		return nil, fmt.Errorf("lock %s@%s: %w", name, version, err)
	}
	if !ok {
		return nil, &LockError{What: name + "@" + version, Path: fl.Path(), Err: ctx.Err()}
	}
	return func() { fl.Unlock() }, nil
}

// LockError says that a lock of the store was still held by another
// process when the caller gave up waiting (its context ended).
type LockError struct {
	What string // NAME or NAME@VERSION
	Path string // the lock file
	Err  error  // the context's error
}

func (e *LockError) Error() string {
	return fmt.Sprintf("%s is locked by another plugctl process (%s); gave up waiting: %v", e.What, e.Path, e.Err)
}

func (e *LockError) Unwrap() error { return e.Err }

// withNameLock runs f holding the plugin's name lock (store's
// NameLockFile): committing a version, removing versions and changing the
// active one take turns, so that a removal of every version cannot delete
// a version committed meanwhile, nor leave current naming a removed one.
// The lock is held only for these short steps, never while downloading.
func (in *Installer) withNameLock(ctx context.Context, name string, f func() error) error {
	if err := os.MkdirAll(in.Paths.Locks(), 0o755); err != nil {
		return err
	}
	fl := flock.New(in.Paths.NameLockFile(name))
	ok, err := fl.TryLockContext(ctx, 20*time.Millisecond)
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("lock %s: %w", name, err)
	}
	if !ok {
		return &LockError{What: name, Path: fl.Path(), Err: ctx.Err()}
	}
	defer fl.Unlock()
	return f()
}

// cleanLeftovers removes staging directories of killed installs: those
// whose version lock no live process holds. The caller holds no lock on
// another version, so trying the lock cannot deadlock. When the caller
// holds the lock of heldName@heldVersion, that version's stages are
// leftovers too (a flock is per open file: trying it again here would
// fail against the caller's own lock).
func (in *Installer) cleanLeftovers(held ...string) []string {
	var removed []string
	for _, l := range in.leftovers(false, held...) {
		if os.RemoveAll(l.Path) == nil {
			removed = append(removed, filepath.Base(l.Path))
		}
	}
	return removed
}

// leftover is a directory in tmp/ that no live command is using.
type leftover struct {
	Path string
	What string // "an interrupted install", …
}

// leftoverAge is how old a remove-* or index-* directory in tmp/ must be
// before it is taken for the leftover of a killed command: those carry no
// lock, and a live command is done with them in well under a second.
const leftoverAge = 5 * time.Minute

// leftovers lists what killed commands left in tmp/: staging directories of
// installs whose version lock no live process holds (see cleanLeftovers for
// held) and, with old, remove-* and index-* directories older than
// leftoverAge.
func (in *Installer) leftovers(old bool, held ...string) []leftover {
	entries, err := os.ReadDir(in.Paths.Tmp())
	if err != nil {
		return nil
	}
	var out []leftover
	for _, e := range entries {
		path := filepath.Join(in.Paths.Tmp(), e.Name())
		// A stage is named name@version.RANDOM (stagePrefix + MkdirTemp);
		// no plugin, index or removal label holds an '@', so this comes
		// first: a plugin may be called remove-x or index-x.
		name, rest, ok := store.SplitAt(e.Name())
		if !ok || store.ValidName(name) != nil {
			if kind, _, ok := strings.Cut(e.Name(), "-"); ok && (kind == "remove" || kind == "index") {
				if fi, err := e.Info(); old && err == nil && time.Since(fi.ModTime()) > leftoverAge {
					out = append(out, leftover{Path: path, What: "an interrupted " + map[string]string{"remove": "removal", "index": "index update"}[kind]})
				}
			}
			continue
		}
		version := strings.TrimSuffix(rest, filepath.Ext(rest))
		if len(held) == 2 && name == held[0] && version == held[1] {
			out = append(out, leftover{Path: path, What: "an interrupted install"})
			continue
		}
		fl := flock.New(in.Paths.LockFile(name, version))
		if locked, err := fl.TryLock(); err == nil && locked {
			fl.Unlock()
			out = append(out, leftover{Path: path, What: "an interrupted install"})
		}
	}
	return out
}

// discard removes dir from the store: one rename into tmp/ makes it
// disappear at once, even if deleting its files is then interrupted (what
// is left is an old remove-* directory, a leftover).
func (in *Installer) discard(dir, label string) error {
	tmpRoot, err := in.Paths.EnsureTmp()
	if err != nil {
		return err
	}
	trash, err := os.MkdirTemp(tmpRoot, "remove-"+label+".")
	if err != nil {
		return err
	}
	if err := os.Rename(dir, filepath.Join(trash, "v")); err != nil {
		os.Remove(trash)
		return err
	}
	in.hook("discarded")
	os.RemoveAll(trash) // what stays is a leftover for the next cleanup
	return nil
}

// ArtifactHashes fetches the artifact at addr into a fresh directory under
// tmpRoot, removed afterwards, and returns the hashes the index must carry
// for it: for a file its SHA-256 (h1 empty); for a directory source the
// tree hash of what install would lay out (h1) and the SHA-256 of its bin.
func ArtifactHashes(ctx context.Context, f *fetch.Fetcher, tmpRoot, addr, bin string) (sha256, h1 string, err error) {
	tmp, err := os.MkdirTemp(tmpRoot, "check-")
	if err != nil {
		return "", "", err
	}
	defer os.RemoveAll(tmp)
	if IsDirSource(addr, bin) {
		dst := filepath.Join(tmp, "tree")
		if err := f.Dir(ctx, addr, dst); err != nil {
			return "", "", err
		}
		b, err := cleanBin(bin)
		if err != nil {
			return "", "", err
		}
		if h1, err = verify.TreeHash(dst); err != nil {
			return "", "", err
		}
		sha256, err = verify.FileSHA256(filepath.Join(dst, filepath.FromSlash(b)))
		return sha256, h1, err
	}
	res, err := f.File(ctx, addr, filepath.Join(tmp, "file"))
	if err != nil {
		return "", "", err
	}
	return res.SHA256, "", nil
}

// SafeFileName keeps a downloaded file's name usable on any file system.
func SafeFileName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-' || c == '+') {
			b[i] = '_'
		}
	}
	out := string(b)
	if out == "" || out[0] == '.' {
		out = "_" + out
	}
	return out
}
