package index

import (
	"github.com/plugctl/plugctl/profile"

	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	"sigs.k8s.io/yaml"

	"github.com/plugctl/plugctl/store"
	"github.com/plugctl/plugctl/verify"
)

// APIVersion is the only index format this plugctl reads.
const APIVersion = "plugctl/v1"

// Index is a parsed index file.
type Index struct {
	APIVersion string            `json:"apiVersion"`
	Version    int64             `json:"version,omitempty"`
	Expires    *time.Time        `json:"expires,omitempty"`
	Plugins    map[string]Plugin `json:"plugins"`
}

// Plugin is one plugin's entry: how to launch it and its versions.
type Plugin struct {
	Description string                         `json:"description,omitempty"`
	Protocol    store.Protocol                 `json:"protocol,omitempty"`
	Versions    map[string]map[string]Artifact `json:"versions"` // version → "os/arch" → artifact
}

// Artifact is what to fetch for one version on one platform. A file (a
// bare binary, an archive) is pinned by SHA256; a directory (a local
// directory, a git repository) by H1, the tree hash of all its files
// (names and contents, as verify.TreeHash computes it), and optionally
// SHA256 of its bin as well.
type Artifact struct {
	URL    string `json:"url"`
	SHA256 SHA256 `json:"sha256,omitempty"`
	H1     string `json:"h1,omitempty"`
	Bin    string `json:"bin,omitempty"`
}

// SHA256 is a hex digest that must be written as a string: YAML reads an
// unquoted all-digit hash as a number, which would silently change it.
type SHA256 string

func (h *SHA256) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		if _, err := strconv.ParseFloat(string(b), 64); err == nil {
			return ErrUnquotedHash
		}
		return fmt.Errorf("sha256 %s is not a string: quote it in the index (sha256: \"…\")", truncate(string(b), 20))
	}
	if !verify.ValidSHA256(s) {
		// sigs.k8s.io/yaml turns an unquoted all-digit hash into a float
		// and then into its string form, "1.2345e+63" or "+Inf".
		if _, err := strconv.ParseFloat(s, 64); err == nil {
			// s is what YAML made of the digits ("+Inf", "1.1e+63"),
			// not what the file says: not worth showing.
			return ErrUnquotedHash
		}
		return fmt.Errorf("sha256 %q: want 64 hex digits", truncate(s, 70))
	}
	*h = SHA256(strings.ToLower(s))
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// ErrUnquotedHash is returned for a sha256 written without quotes and
// made only of digits, which YAML reads as a number.
var ErrUnquotedHash = errors.New(`sha256 is a number, not a string: YAML reads an unquoted all-digit hash as a number`)

// ErrMalformed is wrapped by every index that cannot be read.
var ErrMalformed = errors.New("malformed index")

// Parse reads an index in YAML or JSON. Unknown fields are ignored; use
// ParseStrict to reject them.
func Parse(data []byte) (*Index, error) {
	return parse(data, false)
}

// ParseStrict is Parse that also rejects unknown fields, for linting.
func ParseStrict(data []byte) (*Index, error) {
	return parse(data, true)
}

// MaxIndexBytes is the size of the largest index plugctl reads: 64 MiB,
// about nine times a 10,000-version index with four platforms a version.
// YAML and JSON nesting is bounded by the parsers (10,000 levels).
const MaxIndexBytes = 64 << 20

func parse(data []byte, strict bool) (*Index, error) {
	if len(data) > MaxIndexBytes {
		return nil, fmt.Errorf("%w: %d bytes, more than the %d MiB an index may have", ErrMalformed, len(data), MaxIndexBytes>>20)
	}
	var idx Index
	var err error
	trimmed := strings.TrimSpace(string(data))
	switch {
	case !strict && strings.HasPrefix(trimmed, "{"):
		// JSON is YAML too, but encoding/json is an order of magnitude faster.
		err = json.Unmarshal(data, &idx)
	case strict:
		err = yaml.UnmarshalStrict(data, &idx)
	default:
		err = yaml.Unmarshal(data, &idx)
	}
	if err != nil {
		if errors.Is(err, ErrUnquotedHash) {
			return nil, fmt.Errorf("%w: %w", ErrMalformed, ErrUnquotedHash)
		}
		return nil, fmt.Errorf("%w: %s", ErrMalformed, store.YAMLError(err))
	}
	if err := idx.Validate(); err != nil {
		return nil, err
	}
	return &idx, nil
}

// Validate checks what every consumer relies on: the apiVersion, plugin
// names, versions, platforms and artifacts.
func (idx *Index) Validate() error {
	if idx.APIVersion != APIVersion {
		return fmt.Errorf("%w: apiVersion %q: want %q", ErrMalformed, idx.APIVersion, APIVersion)
	}
	for name, p := range idx.Plugins {
		if err := store.ValidName(name); err != nil {
			return fmt.Errorf("%w: plugins.%s: %v", ErrMalformed, name, err)
		}
		if err := p.Protocol.Validate(); err != nil {
			return fmt.Errorf("%w: plugins.%s.%v", ErrMalformed, name, err)
		}
		if _, err := profile.Resolve(p.Protocol); err != nil {
			return fmt.Errorf("%w: plugins.%s.protocol.%w", ErrMalformed, name, err)
		}
		for v, plats := range p.Versions {
			if _, err := semver.StrictNewVersion(v); err != nil {
				return fmt.Errorf("%w: plugins.%s.versions.%q: not a semantic version (want MAJOR.MINOR.PATCH)", ErrMalformed, name, v)
			}
			for plat, a := range plats {
				if _, _, ok := SplitPlatform(plat); !ok {
					return fmt.Errorf("%w: plugins.%s.versions.%s: platform %q: want os/arch", ErrMalformed, name, v, plat)
				}
				if a.URL == "" {
					return fmt.Errorf("%w: plugins.%s.versions.%s.%s: url is missing", ErrMalformed, name, v, plat)
				}
				if a.SHA256 == "" && a.H1 == "" {
					return fmt.Errorf("%w: plugins.%s.versions.%s.%s: sha256 is missing (or, for a directory, h1)", ErrMalformed, name, v, plat)
				}
				if a.H1 != "" && !verify.ValidH1(a.H1) {
					return fmt.Errorf("%w: plugins.%s.versions.%s.%s: h1 %q: want \"h1:\" and the base64 of a SHA-256 (as plugctl prints it)", ErrMalformed, name, v, plat, truncate(a.H1, 60))
				}
			}
		}
	}
	return nil
}

// SplitPlatform splits "os/arch".
func SplitPlatform(p string) (goos, goarch string, ok bool) {
	goos, goarch, ok = strings.Cut(p, "/")
	return goos, goarch, ok && goos != "" && goarch != "" && !strings.Contains(goarch, "/")
}

// Names returns the index's plugin names, sorted.
func (idx *Index) Names() []string {
	names := make([]string, 0, len(idx.Plugins))
	for n := range idx.Plugins {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// SortedVersions returns the plugin's versions, newest first.
func (p Plugin) SortedVersions() []*semver.Version {
	vs := make([]*semver.Version, 0, len(p.Versions))
	for v := range p.Versions {
		if sv, err := semver.StrictNewVersion(v); err == nil {
			vs = append(vs, sv)
		}
	}
	sort.Sort(sort.Reverse(semver.Collection(vs)))
	return vs
}
