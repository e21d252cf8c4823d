package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"golang.org/x/mod/semver"

	"github.com/plugctl/plugctl/internal/regfile"
)

// ReceiptSchema is the receipt format written by this version of plugctl.
const ReceiptSchema = 1

// Receipt records one installed version. It is written last, so a version
// directory without a readable receipt is a leftover, not an install.
type Receipt struct {
	Schema         int    `json:"schema"`
	Name           string `json:"name"`
	Version        string `json:"version"`
	Constraint     string `json:"constraint,omitempty"`
	Index          string `json:"index,omitempty"`
	Source         string `json:"source"`
	ArtifactSHA256 string `json:"artifactSha256"`
	Bin            string `json:"bin"` // slash-separated, relative to pkg/
	// ArtifactBin is bin as the index or --bin gave it ("" for a bare
	// binary or an archive with one file): with Source and ArtifactSHA256
	// it is what fetching the version again needs, without any index (a
	// git address with a bin is a repository, without one a file).
	ArtifactBin string    `json:"artifactBin,omitempty"`
	BinSHA256   string    `json:"binSha256"`
	TreeHash    string    `json:"treeHash"`
	Platform    string    `json:"platform"`
	Protocol    Protocol  `json:"protocol"`
	InstalledAt time.Time `json:"installedAt"`
	// From a registry: the digests of the manifest the artifact was taken
	// from and of its layer.
	OCIManifest string `json:"ociManifest,omitempty"`
	OCILayer    string `json:"ociLayer,omitempty"`
}

// parseReceipt decodes the receipt of name@version, as read from its file.
func parseReceipt(b []byte, name, version string) (*Receipt, error) {
	var r Receipt
	if err := json.Unmarshal(b, &r); err != nil || r.Schema != ReceiptSchema || r.Name != name || r.Version != version {
		return nil, ErrBadReceipt
	}
	return &r, nil
}

// ErrNotInstalled is wrapped by every lookup of a version or plugin that the
// store does not hold.
var ErrNotInstalled = errors.New("not installed")

// ErrBadReceipt is wrapped, with ErrNotInstalled, when a version's receipt
// is there but unreadable, corrupt or not a regular file: a damaged store
// rather than a version never installed.
var ErrBadReceipt = errors.New("receipt unreadable or corrupt")

// ReadReceipt reads the receipt of name@version. A missing or unreadable
// receipt means the version is not installed.
func (p Paths) ReadReceipt(name, version string) (*Receipt, error) {
	if err := ValidName(name); err != nil {
		return nil, err
	}
	if !ValidVersion(version) {
		// Not one directory under the plugin's: a path, not a version.
		return nil, fmt.Errorf("%s@%s: %w", name, version, ErrNotInstalled)
	}
	b, err := readSmallFile(p.ReceiptFile(name, version))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s@%s: %w", name, version, ErrNotInstalled)
	}
	if errors.Is(err, regfile.ErrNotRegular) {
		// What no install writes: as corrupt as an unparsable receipt.
		return nil, fmt.Errorf("%s@%s: %w (not a regular file): %w", name, version, ErrBadReceipt, ErrNotInstalled)
	}
	if err != nil {
		return nil, fmt.Errorf("read receipt of %s@%s: %w", name, version, err)
	}
	r, err := parseReceipt(b, name, version)
	if err != nil {
		return nil, fmt.Errorf("%s@%s: %w: %w", name, version, ErrBadReceipt, ErrNotInstalled)
	}
	return r, nil
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
	v := parseCurrent(b)
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
	return parseCurrent(b)
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
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := StageFile(path, data, perm)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// StageFile writes data, synced and with mode perm, to a new hidden file
// beside path and returns its name, for a caller that renames it into
// place (WriteFileAtomic, or several files renamed together). Nothing is
// left behind on error.
func StageFile(path string, data []byte, perm os.FileMode) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
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
	if err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return tmp, nil
}
