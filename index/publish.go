package index

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"

	"github.com/plugctl/plugctl/internal/regfile"
	"github.com/plugctl/plugctl/store"
	"github.com/plugctl/plugctl/verify"
)

// Entry to publish: one artifact of one version for one platform.
type Publication struct {
	Name     string
	Version  string
	Platform string
	URL      string
	SHA256   string // of the file; for a directory, of its bin
	H1       string // a directory's tree hash
	Bin      string
}

// LoadFile reads an index file for editing; a missing file is a new, empty
// index.
func LoadFile(path string) (*Index, error) {
	b, err := regfile.ReadFile(path, MaxIndexBytes)
	if errors.Is(err, fs.ErrNotExist) {
		return &Index{APIVersion: APIVersion, Plugins: map[string]Plugin{}}, nil
	}
	if err != nil {
		return nil, err
	}
	idx, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if idx.Plugins == nil {
		idx.Plugins = map[string]Plugin{}
	}
	return idx, nil
}

// WriteFile writes idx to path atomically, as JSON when path ends in .json
// and as YAML otherwise.
func WriteFile(path string, idx *Index) error {
	return store.WriteFileAtomic(path, Marshal(idx, isJSONPath(path)), 0o644)
}

func isJSONPath(path string) bool {
	return strings.EqualFold(filepath.Ext(path), ".json")
}

// SignFunc signs msg, the bytes of an index file that will be called name,
// and returns the minisign signature to keep beside it.
type SignFunc func(name string, msg []byte) ([]byte, error)

// WriteSigned writes body to path and its signature (by sign) to path's
// signature file: the signature is made from the staged bytes before
// either file is replaced, so a signing that fails (a wrong password, an
// interrupt) leaves the old index and the old signature as they were, a
// pair that still verifies. Only the two renames at the end stand between
// old and new.
func WriteSigned(path string, body []byte, sign SignFunc) error {
	sig, err := sign(filepath.Base(path), body)
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	stagedIndex, err := store.StageFile(path, body, 0o644)
	if err != nil {
		return err
	}
	sigPath := path + ".minisig"
	stagedSig, err := store.StageFile(sigPath, sig, 0o644)
	if err != nil {
		os.Remove(stagedIndex)
		return err
	}
	if err := os.Rename(stagedIndex, path); err != nil {
		os.Remove(stagedIndex)
		os.Remove(stagedSig)
		return err
	}
	if err := os.Rename(stagedSig, sigPath); err != nil {
		os.Remove(stagedSig)
		return err
	}
	return nil
}

// Add adds or replaces one artifact entry. description and the set fields
// of proto replace the plugin's.
func (idx *Index) Add(pub Publication, description string, proto store.Protocol) error {
	if err := store.ValidName(pub.Name); err != nil {
		return fmt.Errorf("%w: %v", ErrUsage, err)
	}
	v, err := semver.StrictNewVersion(strings.TrimPrefix(pub.Version, "v"))
	if err != nil {
		return fmt.Errorf("%w: version %q: not a semantic version (want MAJOR.MINOR.PATCH)", ErrUsage, pub.Version)
	}
	if !KnownPlatform(pub.Platform) {
		return fmt.Errorf("%w: platform %q: want os/arch from Go's known list (go tool dist list)", ErrUsage, pub.Platform)
	}
	if !verify.ValidSHA256(pub.SHA256) && !(pub.SHA256 == "" && pub.H1 != "") {
		return fmt.Errorf("%w: sha256 %q: want 64 hex digits", ErrUsage, pub.SHA256)
	}
	if pub.H1 != "" && !verify.ValidH1(pub.H1) {
		return fmt.Errorf("%w: h1 %q: want h1: and the base64 of a SHA-256", ErrUsage, pub.H1)
	}
	if err := proto.Validate(); err != nil {
		return fmt.Errorf("%w: %v", ErrUsage, err)
	}
	p := idx.Plugins[pub.Name]
	if description != "" {
		p.Description = description
	}
	p.Protocol = mergeProtocol(p.Protocol, proto)
	if p.Versions == nil {
		p.Versions = map[string]map[string]Artifact{}
	}
	key := v.String()
	if p.Versions[key] == nil {
		p.Versions[key] = map[string]Artifact{}
	}
	p.Versions[key][pub.Platform] = Artifact{URL: pub.URL, SHA256: SHA256(strings.ToLower(pub.SHA256)), H1: pub.H1, Bin: pub.Bin}
	idx.Plugins[pub.Name] = p
	if idx.APIVersion == "" {
		idx.APIVersion = APIVersion
	}
	return nil
}

func mergeProtocol(old, set store.Protocol) store.Protocol {
	if set.Kind != "" {
		old.Kind = set.Kind
	}
	if len(set.Versions) > 0 {
		old.Versions = set.Versions
	}
	if set.CookieKey != "" {
		old.CookieKey = set.CookieKey
	}
	if set.CookieValue != "" {
		old.CookieValue = set.CookieValue
	}
	if set.Dispense != "" {
		old.Dispense = set.Dispense
	}
	if set.Schema != nil {
		old.Schema = set.Schema
	}
	if set.MTLS != "" {
		old.MTLS = set.MTLS
	}
	if set.Profile != "" {
		old.Profile = set.Profile
	}
	return old
}

// Go's known operating systems and architectures (go tool dist list).
var (
	knownOS   = "aix android darwin dragonfly freebsd hurd illumos ios js linux netbsd openbsd plan9 solaris wasip1 windows"
	knownArch = "386 amd64 arm arm64 loong64 mips mips64 mips64le mipsle ppc64 ppc64le riscv64 s390x wasm"
)

func inList(list, s string) bool {
	for _, w := range strings.Fields(list) {
		if w == s {
			return true
		}
	}
	return false
}

// KnownPlatform reports whether p is os/arch with both parts known to Go.
func KnownPlatform(p string) bool {
	goos, goarch, ok := SplitPlatform(p)
	return ok && inList(knownOS, goos) && inList(knownArch, goarch)
}

// PlatformsFromName finds the platform(s) in a goreleaser-style file name
// (name_1.2.0_linux_amd64.tar.gz, name_darwin_all, name-Linux-x86_64.zip).
// darwin "all" and "universal" binaries serve both Mac architectures.
func PlatformsFromName(file string) []string {
	base := strings.ToLower(filepath.Base(file))
	for _, ext := range []string{".tar.gz", ".tgz", ".zip", ".tar", ".exe"} {
		base = strings.TrimSuffix(base, ext)
	}
	base = strings.NewReplacer("x86_64", "amd64", "aarch64", "arm64", "i386", "386").Replace(base)
	parts := strings.FieldsFunc(base, func(r rune) bool { return r == '_' || r == '-' || r == '.' })
	for i := len(parts) - 1; i > 0; i-- {
		goos, arch := parts[i-1], parts[i]
		if !inList(knownOS, goos) {
			continue
		}
		if goos == "darwin" && (arch == "all" || arch == "universal") {
			return []string{"darwin/amd64", "darwin/arm64"}
		}
		if inList(knownArch, arch) {
			return []string{goos + "/" + arch}
		}
	}
	return nil
}

// Checksum is one line of a goreleaser checksums.txt.
type Checksum struct {
	SHA256 string
	File   string
}

// ReadChecksums parses a goreleaser/sha256sum checksums file.
func ReadChecksums(path string) ([]Checksum, error) {
	f, err := regfile.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Checksum
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 2 || !verify.ValidSHA256(fields[0]) {
			return nil, fmt.Errorf("%s:%d: want \"SHA256  FILE\"", path, n)
		}
		out = append(out, Checksum{SHA256: strings.ToLower(fields[0]), File: strings.TrimPrefix(fields[1], "*")})
	}
	return out, sc.Err()
}

// PublishRequest is one `plugctl publish`: an artifact, or every artifact
// of a goreleaser checksums file, of one version, added to an index file.
type PublishRequest struct {
	IndexFile   string
	Name        string
	Version     string
	Description string
	Bin         string
	Protocol    store.Protocol

	// One artifact: its platforms (default: from its file name, else
	// DefaultPlatform) and URL (default: its path relative to the index).
	// Artifacts are more, each published like Artifact (their platforms
	// from their names: Platforms and URL go with one artifact).
	Artifact        string
	Artifacts       []string
	Platforms       []string
	URL             string
	DefaultPlatform string

	// Or a checksums file: every file it lists whose name carries an os and
	// arch, at URLPrefix+name (default: relative to the index).
	Checksums string
	URLPrefix string

	// Push, when set, uploads an artifact file for its platforms before
	// anything is written, and returns the URL to write for each platform
	// and the SHA-256 of the bytes it pushed (which must match a checksums
	// file's line).
	Push func(file string, platforms []string) (urls map[string]string, sha256 string, err error)

	// Sign, when set, signs the index (see WriteSigned), so it gets a
	// version (1 when it has none) and expires Expires after Now.
	Sign    SignFunc
	Expires time.Duration
	Now     time.Time

	// Force allows a protocol change that applies to versions already
	// published (the protocol is the plugin's, not a version's).
	Force bool
}

// ProtocolChangeError is returned by Publish when the protocol flags would
// change the protocol of versions already in the index, which clients then
// launch with other settings than those they were built for.
type ProtocolChangeError struct {
	Name     string
	Versions []string // the other versions already published, newest first
	Changes  []string // "cookieValue x (was y)", …
}

func (e *ProtocolChangeError) Error() string {
	return fmt.Sprintf("%s: the protocol is the plugin's, so this publish would change it for %s too: %s",
		e.Name, strings.Join(e.Versions, ", "), strings.Join(e.Changes, ", "))
}

// Publish adds req's artifacts (their SHA-256 computed, or read from the
// checksums file) to the index file, raises the index's version when it has
// one, renews its expiry when it is to be signed, and writes it. It returns
// what was published. The index file is unchanged on any error.
func Publish(req PublishRequest) ([]Publication, error) {
	if err := store.ValidName(req.Name); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUsage, err)
	}
	idx, err := LoadFile(req.IndexFile)
	if err != nil {
		return nil, err
	}
	indexDir, err := filepath.Abs(filepath.Dir(req.IndexFile))
	if err != nil {
		return nil, err
	}
	var pubs []Publication
	add := func(platforms []string, url, sum, h1 string) {
		for _, p := range platforms {
			pubs = append(pubs, Publication{Name: req.Name, Version: req.Version, Platform: p, URL: url, SHA256: sum, H1: h1, Bin: req.Bin})
		}
	}
	// push uploads file and writes its pushed URL per platform.
	push := func(file string, platforms []string, sum string) error {
		urls, got, err := req.Push(file, platforms)
		if err != nil {
			return err
		}
		if got != sum {
			return &verify.MismatchError{What: filepath.Base(file), Source: file, Want: sum, Got: got}
		}
		for _, p := range platforms {
			add([]string{p}, urls[p], sum, "")
		}
		return nil
	}
	if req.Checksums != "" {
		sums, err := ReadChecksums(req.Checksums)
		if err != nil {
			return nil, err
		}
		for _, s := range sums {
			plats := PlatformsFromName(s.File)
			if len(plats) == 0 {
				continue // checksums.txt also lists sources, SBOMs, …
			}
			file := filepath.Join(filepath.Dir(req.Checksums), s.File)
			if req.Push != nil {
				if err := push(file, plats, s.SHA256); err != nil {
					return nil, err
				}
				continue
			}
			u := req.URLPrefix + s.File
			if req.URLPrefix == "" {
				u = relURL(indexDir, file)
			}
			add(plats, u, s.SHA256, "")
		}
		if len(pubs) == 0 {
			return nil, fmt.Errorf("%w: %s lists no file whose name carries an os and arch (name_1.2.0_linux_amd64.tar.gz)", ErrUsage, req.Checksums)
		}
	} else {
		arts := req.Artifacts
		if req.Artifact != "" {
			arts = append([]string{req.Artifact}, arts...)
		}
		if len(arts) > 1 && (req.URL != "" || len(req.Platforms) > 0) {
			return nil, fmt.Errorf("%w: a URL and platforms name one artifact, not %d", ErrUsage, len(arts))
		}
		// Every artifact's platforms first: nothing is pushed when two
		// artifacts claim one platform.
		platsOf := make([][]string, len(arts))
		seen := map[string]string{}
		for i, art := range arts {
			plats := req.Platforms
			if len(plats) == 0 {
				plats = PlatformsFromName(art)
			}
			if len(plats) == 0 {
				plats = []string{req.DefaultPlatform}
			}
			for _, p := range plats {
				if !KnownPlatform(p) {
					return nil, fmt.Errorf("%w: platform %q: want os/arch from Go's known list (go tool dist list)", ErrUsage, p)
				}
				if other, ok := seen[p]; ok && other != art {
					return nil, fmt.Errorf("%w: %s and %s are both for %s", ErrUsage, other, art, p)
				}
				seen[p] = art
			}
			platsOf[i] = plats
		}
		for i, art := range arts {
			plats := platsOf[i]
			sum, h1, err := artifactHashes(art, req.Bin)
			if err != nil {
				return nil, fmt.Errorf("publish: %w", err)
			}
			if req.Push != nil {
				if h1 != "" {
					return nil, fmt.Errorf("%w: %s is a directory: --push takes files (an archive of it, say)", ErrUsage, art)
				}
				if err := push(art, plats, sum); err != nil {
					return nil, err
				}
				continue
			}
			u := req.URL
			if u == "" {
				u = relURL(indexDir, art)
			}
			add(plats, u, sum, h1)
		}
	}
	if err := checkProtocolChange(idx, req); err != nil {
		return nil, err
	}
	for _, p := range pubs {
		if err := idx.Add(p, req.Description, req.Protocol); err != nil {
			return nil, err
		}
	}
	if idx.Version != 0 {
		idx.Version++
	}
	if req.Sign != nil {
		// A signed index must carry a version and an expiry (clients
		// refuse it otherwise); every signing publish renews the expiry.
		if idx.Version == 0 {
			idx.Version = 1
		}
		exp := req.Now.Add(req.Expires).UTC().Truncate(time.Second)
		idx.Expires = &exp
	}
	body := Marshal(idx, isJSONPath(req.IndexFile))
	if req.Sign != nil {
		err = WriteSigned(req.IndexFile, body, req.Sign)
	} else {
		err = store.WriteFileAtomic(req.IndexFile, body, 0o644)
	}
	if err != nil {
		return nil, err
	}
	return pubs, nil
}

// artifactHashes hashes a file artifact (its SHA-256), or a directory
// artifact as install will pin it: its tree hash (h1), which covers every
// file in it but .git, and the SHA-256 of its bin, which must be given.
func artifactHashes(path, bin string) (sum, h1 string, err error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", "", err
	}
	if !fi.IsDir() {
		sum, err = verify.FileSHA256(path)
		return sum, "", err
	}
	if bin == "" {
		return "", "", fmt.Errorf("%w: %s is a directory: --bin must name the executable in it", ErrUsage, path)
	}
	if h1, err = verify.SourceTreeHash(path); err != nil {
		return "", "", err
	}
	sum, err = verify.FileSHA256(filepath.Join(path, filepath.FromSlash(bin)))
	return sum, h1, err
}

// relURL is the artifact's path relative to the index directory, slash
// separated; an artifact outside that directory is named by its file name,
// and must be copied beside the index before it is served.
func relURL(indexDir, artifact string) string {
	abs, err := filepath.Abs(artifact)
	if err == nil {
		if rel, err := filepath.Rel(indexDir, abs); err == nil && !strings.HasPrefix(rel, "..") {
			return filepath.ToSlash(rel)
		}
	}
	return filepath.Base(artifact)
}

// checkProtocolChange refuses (unless req.Force) protocol flags that would
// change the protocol of versions of req.Name other than req.Version.
func checkProtocolChange(idx *Index, req PublishRequest) error {
	p, ok := idx.Plugins[req.Name]
	if !ok || req.Force {
		return nil
	}
	var others []string
	this := strings.TrimPrefix(req.Version, "v")
	for _, v := range p.SortedVersions() {
		if v.String() != this {
			others = append(others, v.String())
		}
	}
	if len(others) == 0 {
		return nil
	}
	was := p.Protocol.WithDefaults(req.Name)
	now := mergeProtocol(p.Protocol, req.Protocol).WithDefaults(req.Name)
	var changes []string
	for _, c := range was.Changes(now) {
		changes = append(changes, fmt.Sprintf("%s %s (was %s)", c.Field, c.Now, c.Was))
	}
	if len(changes) == 0 {
		return nil
	}
	return &ProtocolChangeError{Name: req.Name, Versions: others, Changes: changes}
}
