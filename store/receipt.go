package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/semver"

	"github.com/plugctl/plugctl/store/layout"
)

// ReceiptSchema is the receipt format written by this version of plugctl.
const ReceiptSchema = 1

// Protocol defaults, as PRODUCT.md fixes them.
const (
	DefaultCookieKey   = "PLUGCTL_PLUGIN"
	DefaultCookieValue = "plugctl"
)

// Protocol says how go-plugin launches a plugin: the handshake it expects and
// the transport. Every field is optional in an index; WithDefaults fills them.
type Protocol struct {
	Kind        string           `json:"kind,omitempty"` // auto | grpc | netrpc
	Versions    ProtocolVersions `json:"version,omitempty"`
	CookieKey   string           `json:"cookieKey,omitempty"`
	CookieValue string           `json:"cookieValue,omitempty"`
	Dispense    string           `json:"dispense,omitempty"`
	Schema      *Schema          `json:"schema,omitempty"`
	MTLS        MTLSMode         `json:"mtls,omitempty"`
}

// Schema is a gRPC schema (a FileDescriptorSet, "protoset") for a plugin
// without server reflection. In an index URL is relative to the index; in a
// receipt Path names the verified copy inside the version directory.
type Schema struct {
	URL    string `json:"url,omitempty"`
	SHA256 string `json:"sha256"`
	Path   string `json:"path,omitempty"`
}

// Protocol kinds.
const (
	KindAuto   = "auto"
	KindGRPC   = "grpc"
	KindNetRPC = "netrpc"
)

// WithDefaults returns p with every unset field set to PRODUCT.md's default
// for a plugin called name.
func (p Protocol) WithDefaults(name string) Protocol {
	if p.Kind == "" {
		p.Kind = KindAuto
	}
	if len(p.Versions) == 0 {
		p.Versions = ProtocolVersions{1}
	}
	if p.CookieKey == "" {
		p.CookieKey = DefaultCookieKey
	}
	if p.CookieValue == "" {
		p.CookieValue = DefaultCookieValue
	}
	if p.Dispense == "" {
		p.Dispense = name
	}
	if p.MTLS == "" {
		p.MTLS = MTLSAuto
	}
	return p
}

// Validate reports the first field that go-plugin could not use.
func (p Protocol) Validate() error {
	switch p.Kind {
	case "", KindAuto, KindGRPC, KindNetRPC:
	default:
		return fmt.Errorf("protocol kind %q: want auto, grpc or netrpc", p.Kind)
	}
	switch p.MTLS {
	case "", MTLSAuto, MTLSTrue, MTLSFalse:
	default:
		return fmt.Errorf("protocol mtls %q: want auto, true or false", p.MTLS)
	}
	for _, v := range p.Versions {
		if v < 1 {
			return fmt.Errorf("protocol version %d: must be 1 or more", v)
		}
	}
	return nil
}

// ProtocolVersions is the handshake ProtocolVersion(s) offered. In an index
// it is a number or a list of numbers.
type ProtocolVersions []int

func (v *ProtocolVersions) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '[' {
		var list []int
		if err := json.Unmarshal(b, &list); err != nil {
			return fmt.Errorf("protocol version: want a number or a list of numbers: %w", err)
		}
		*v = list
		return nil
	}
	var n int
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("protocol version: want a number or a list of numbers: %w", err)
	}
	*v = ProtocolVersions{n}
	return nil
}

func (v ProtocolVersions) MarshalJSON() ([]byte, error) {
	if len(v) == 1 {
		return json.Marshal(v[0])
	}
	return json.Marshal([]int(v))
}

// String renders the versions as the index would: "1" or "2,3".
func (v ProtocolVersions) String() string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

// MTLSMode is auto, true or false; an index may write it as a YAML boolean.
type MTLSMode string

const (
	MTLSAuto  MTLSMode = "auto"
	MTLSTrue  MTLSMode = "true"
	MTLSFalse MTLSMode = "false"
)

func (m *MTLSMode) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	switch v := v.(type) {
	case bool:
		*m = MTLSFalse
		if v {
			*m = MTLSTrue
		}
	case string:
		*m = MTLSMode(v)
	default:
		return fmt.Errorf("protocol mtls: want auto, true or false")
	}
	return nil
}

// Receipt records one installed version. It is written last, so a version
// directory without a readable receipt is a leftover, not an install.
type Receipt struct {
	Schema         int       `json:"schema"`
	Name           string    `json:"name"`
	Version        string    `json:"version"`
	Constraint     string    `json:"constraint,omitempty"`
	Index          string    `json:"index,omitempty"`
	Source         string    `json:"source"`
	ArtifactSHA256 string    `json:"artifactSha256"`
	Bin            string    `json:"bin"` // slash-separated, relative to pkg/
	BinSHA256      string    `json:"binSha256"`
	TreeHash       string    `json:"treeHash"`
	Platform       string    `json:"platform"`
	Protocol       Protocol  `json:"protocol"`
	InstalledAt    time.Time `json:"installedAt"`
}

// ErrNotInstalled is wrapped by every lookup of a version or plugin that the
// store does not hold.
var ErrNotInstalled = errors.New("not installed")

// ReadReceipt reads the receipt of name@version. A missing or unreadable
// receipt means the version is not installed.
func (p Paths) ReadReceipt(name, version string) (*Receipt, error) {
	if err := ValidName(name); err != nil {
		return nil, err
	}
	if !layout.ValidVersion(version) {
		// Not one directory under the plugin's: a path, not a version.
		return nil, fmt.Errorf("%s@%s: %w", name, version, ErrNotInstalled)
	}
	b, err := readSmallFile(p.ReceiptFile(name, version))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s@%s: %w", name, version, ErrNotInstalled)
	}
	if err != nil {
		return nil, fmt.Errorf("read receipt of %s@%s: %w", name, version, err)
	}
	var r Receipt
	if err := json.Unmarshal(b, &r); err != nil || r.Schema != ReceiptSchema || r.Name != name || r.Version != version {
		return nil, fmt.Errorf("%s@%s: receipt unreadable or corrupt (run plugctl doctor): %w", name, version, ErrNotInstalled)
	}
	return &r, nil
}

// Exe returns the absolute path of the receipt's executable.
func (p Paths) Exe(r *Receipt) string {
	return filepath.Join(p.PkgDir(r.Name, r.Version), filepath.FromSlash(r.Bin))
}

// MarshalReceipt renders a receipt as written to disk.
func MarshalReceipt(r *Receipt) ([]byte, error) {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// Versions returns the installed versions of name, newest first. Directories
// without a valid receipt are skipped.
func (p Paths) Versions(name string) ([]*Receipt, error) {
	if err := ValidName(name); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(p.PluginDir(name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*Receipt
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		r, err := p.ReadReceipt(name, e.Name())
		if err != nil {
			continue
		}
		out = append(out, r)
	}
	SortReceipts(out)
	return out, nil
}

// SortReceipts orders receipts newest version first (semver precedence;
// a version that is not semver, which install never writes, sorts last,
// by its text). The versions here were validated with Masterminds/semver at
// install: golang.org/x/mod/semver orders them the same way without the
// regular expressions Masterminds compiles at start-up, which every command
// run from the store, a warm call among them, would pay.
func SortReceipts(rs []*Receipt) {
	sort.SliceStable(rs, func(i, j int) bool {
		a, b := "v"+rs[i].Version, "v"+rs[j].Version
		va, vb := semver.IsValid(a), semver.IsValid(b)
		if va != vb {
			return va
		}
		if !va {
			return rs[i].Version > rs[j].Version
		}
		return semver.Compare(a, b) > 0
	})
}

// Names returns the names of plugins with at least one directory in the
// store, sorted.
func (p Paths) Names() ([]string, error) {
	entries, err := os.ReadDir(p.Plugins())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() && ValidName(e.Name()) == nil {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

// Active returns the active version of name, or "" when none is recorded or
// the recorded one is no longer installed.
func (p Paths) Active(name string) (string, error) {
	if err := ValidName(name); err != nil {
		return "", err
	}
	b, err := readSmallFile(p.CurrentFile(name))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	v := layout.ParseCurrent(b)
	if _, err := os.Stat(p.ReceiptFile(name, v)); err != nil {
		return "", nil
	}
	return v, nil
}

// CurrentVersion is what name's current file says, "" when there is none,
// without Active's check that the version's receipt exists: for callers
// that hold the receipts already (list).
func (p Paths) CurrentVersion(name string) string {
	if ValidName(name) != nil {
		return ""
	}
	b, err := readSmallFile(p.CurrentFile(name))
	if err != nil {
		return ""
	}
	return layout.ParseCurrent(b)
}

// SetActive records version as the active version of name, atomically.
func (p Paths) SetActive(name, version string) error {
	if err := ValidName(name); err != nil {
		return err
	}
	return WriteFileAtomic(p.CurrentFile(name), []byte(version+"\n"), 0o644)
}

// ClearActive forgets the active version of name.
func (p Paths) ClearActive(name string) error {
	err := os.Remove(p.CurrentFile(name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// WriteFileAtomic writes data to a temporary file beside path and renames it
// into place, so readers see the old content or the new, never a mix.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, perm)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
