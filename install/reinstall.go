package install

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/plugctl/plugctl/store"
)

// ReceiptRequest is the request that installs r's version again from its
// receipt alone: the source, artifact hash, bin and protocol recorded at
// install, never an index (which may list other bytes by now).
func ReceiptRequest(r *store.Receipt) Request {
	req := Request{
		Name: r.Name, Version: r.Version, Constraint: r.Constraint, Index: r.Index,
		Source: r.Source, SHA256: r.ArtifactSHA256, Bin: r.ArtifactBin,
		Platform: r.Platform, Protocol: r.Protocol,
	}
	if req.Bin == "" && r.Bin != r.Name {
		// An entry point not named like the plugin was given as bin (or
		// was an archive's only file, which naming it finds again): the
		// case of a receipt written before artifactBin was recorded. A
		// bare binary is always installed under the plugin's name.
		req.Bin = r.Bin
	}
	if s := r.Protocol.Schema; s != nil {
		cp := *s
		cp.Path = ""
		req.Protocol.Schema = &cp
		req.SchemaSource = s.URL
	}
	return req
}

// ErrNoSource is wrapped when a receipt does not say where its version came
// from, so it cannot be fetched again.
var ErrNoSource = errors.New("the receipt records no source to fetch it from again")

// Reinstall fetches name@version again from its receipt's source, checks
// it against the receipt's hash and replaces the installed files in one
// step: the version stays active if it was, and on any error the store is
// as it was. A version that is not installed is an error wrapping
// store.ErrNotInstalled.
func (in *Installer) Reinstall(ctx context.Context, name, version string) (*Result, error) {
	r, err := in.Paths.ReadReceipt(name, version)
	if err != nil {
		return nil, err
	}
	if r.Source == "" || r.ArtifactSHA256 == "" {
		return nil, fmt.Errorf("reinstall %s@%s: %w", name, version, ErrNoSource)
	}
	req := ReceiptRequest(r)
	if req.SchemaSource == "" {
		// A schema given with install --from: its intact kept copy is
		// the one to keep (without one, the install fails with
		// *SchemaUnavailableError rather than drop it).
		req.SchemaSet, _ = in.keptSchema(r)
	}
	return in.Replace(ctx, req)
}

// Replace installs req whether or not its version is installed: an
// installed version's files, receipt included, are exchanged for the new
// ones in one rename (install --force with other protocol flags, reinstall).
func (in *Installer) Replace(ctx context.Context, req Request) (*Result, error) {
	if err := store.ValidName(req.Name); err != nil {
		return nil, err
	}
	what := req.Name + "@" + req.Version
	unlock, err := in.lock(ctx, req.Name, req.Version)
	if err != nil {
		return nil, fmt.Errorf("reinstall %s: %w", what, err)
	}
	defer unlock()
	in.cleanLeftovers(req.Name, req.Version)
	_, err = in.Paths.ReadReceipt(req.Name, req.Version)
	replaced := err == nil
	r, err := in.stageAndCommit(ctx, req, true)
	if err != nil {
		return nil, fmt.Errorf("reinstall %s: %w", what, err)
	}
	return in.activateFirst(ctx, &Result{Receipt: r, Replaced: replaced})
}

// replaceDir puts the staged version directory vdir in the place of the
// installed dst: readers see the old version or the new one, never a mix
// or nothing, where the platform can exchange two directories (Linux);
// elsewhere dst is missing between two renames. The old files end in
// tmp/ and are removed.
func (in *Installer) replaceDir(vdir, dst, name string) error {
	if err := exchange(vdir, dst); err == nil {
		// vdir now holds the old version.
		return in.discard(vdir, name)
	}
	tmpRoot, err := in.Paths.EnsureTmp()
	if err != nil {
		return err
	}
	trash, err := os.MkdirTemp(tmpRoot, "remove-"+name+".")
	if err != nil {
		return err
	}
	if err := os.Rename(dst, filepath.Join(trash, "v")); err != nil {
		os.Remove(trash)
		return fmt.Errorf("commit to store: %w", err)
	}
	if err := os.Rename(vdir, dst); err != nil {
		// Put the old version back: the store is as it was.
		os.Rename(filepath.Join(trash, "v"), dst)
		os.RemoveAll(trash)
		return fmt.Errorf("commit to store: %w", err)
	}
	os.RemoveAll(trash)
	return nil
}

// Differences names what of req differs from the installed receipt r:
// source, hash, bin and each protocol setting (after defaults), so that
// install --from run again with other flags says what --force would change.
func Differences(r *store.Receipt, req Request) []string {
	var d []string
	if r.Source != req.Source {
		d = append(d, fmt.Sprintf("source %s (installed: %s)", req.Source, r.Source))
	}
	if !strings.EqualFold(r.ArtifactSHA256, req.SHA256) {
		d = append(d, fmt.Sprintf("sha256 %s (installed: %s)", req.SHA256, r.ArtifactSHA256))
	}
	if req.Bin != "" && req.Bin != r.ArtifactBin && req.Bin != r.Bin {
		d = append(d, fmt.Sprintf("bin %s (installed: %s)", req.Bin, r.Bin))
	}
	if want, have := requestSchemaSum(req), protocolSchemaSum(r.Protocol); !strings.EqualFold(want, have) {
		d = append(d, fmt.Sprintf("schema %s (installed: %s)", orNone(want), orNone(have)))
	}
	return append(d, ProtocolDifferences(r.Protocol.WithDefaults(r.Name), req.Protocol.WithDefaults(req.Name))...)
}

// requestSchemaSum is the SHA-256 of the schema req installs, or "".
func requestSchemaSum(req Request) string {
	if req.SchemaSet != nil {
		return schemaSum(req.SchemaSet)
	}
	return protocolSchemaSum(req.Protocol)
}

// protocolSchemaSum is the SHA-256 of p's schema, or "".
func protocolSchemaSum(p store.Protocol) string {
	if p.Schema == nil {
		return ""
	}
	return p.Schema.SHA256
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// ProtocolDifferences names the settings of b that differ from a, as
// "--flag new (was: old)".
func ProtocolDifferences(a, b store.Protocol) []string {
	var d []string
	for _, c := range a.Changes(b) {
		d = append(d, fmt.Sprintf("%s %s (was %s)", protocolFlag(c.Field), c.Now, c.Was))
	}
	return d
}

// protocolFlag is the install flag that sets a protocol's index field.
func protocolFlag(field string) string {
	switch field {
	case "version":
		return "--protocol-version"
	case "cookieKey":
		return "--cookie-key"
	case "cookieValue":
		return "--cookie-value"
	}
	return "--" + field // kind, dispense, mtls
}
