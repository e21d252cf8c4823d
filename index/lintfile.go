package index

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/plugctl/plugctl/internal/regfile"
	"github.com/plugctl/plugctl/store"
)

// LintFile lints the index file at path as Lint does, with what lies beside
// it: its own absolute path as Base and the signature INDEX.minisig, when
// there is one (Signed, Signature). o gives Keys and Now (zero: the current
// time). A missing file is a *NotFoundError.
func LintFile(path string, o LintOptions) (*LintReport, error) {
	data, err := regfile.ReadFile(path, MaxIndexBytes)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, &NotFoundError{What: "index", Name: path}
		}
		return nil, err
	}
	if o.Base, err = filepath.Abs(path); err != nil {
		return nil, err
	}
	sig, sigErr := store.ReadFileMax(SignatureAddress(path), MaxSignatureBytes)
	if sigErr != nil && !errors.Is(sigErr, os.ErrNotExist) {
		return nil, fmt.Errorf("read %s: %w", SignatureAddress(path), sigErr)
	}
	o.Signed, o.Signature = sigErr == nil, sig
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	return Lint(data, o), nil
}

// ArtifactHasher fetches the artifact at src and returns the hashes an
// index must carry for it: for a file its SHA-256 (h1 empty); for a
// directory its tree hash (h1) and the SHA-256 of its executable bin.
type ArtifactHasher func(ctx context.Context, src, bin string) (sha256, h1 string, err error)

// CheckArtifacts fetches every artifact rep found (in the index at base,
// which relative URLs resolve against) with hash, and returns a Problem for
// each that could not be fetched, whose hashes differ from the index's, or
// that lacks the hash its kind (file or directory) needs. Index packages
// cannot fetch: the caller's hash does.
func CheckArtifacts(ctx context.Context, rep *LintReport, base string, hash ArtifactHasher) []Problem {
	var problems []Problem
	for _, a := range rep.Artifacts {
		src, err := ResolveURL(&Meta{Source: base}, a.URL)
		got, gotH1 := "", ""
		if err == nil {
			got, gotH1, err = hash(ctx, src, a.Bin)
		}
		switch {
		case err != nil:
			problems = append(problems, Problem{Path: a.Path + ".url", Line: a.Line, Message: err.Error()})
		case gotH1 != "" && a.H1 == "":
			problems = append(problems, Problem{Path: a.Path + ".h1", Line: a.Line,
				Message: fmt.Sprintf("missing: %s is a directory, pinned as a whole by its tree hash: h1: %q once you trust its files", src, gotH1)})
		case gotH1 != "" && gotH1 != a.H1:
			problems = append(problems, Problem{Path: a.Path + ".h1", Line: a.Line,
				Message: fmt.Sprintf("does not match the directory: want %s, got %s (from %s)", a.H1, gotH1, src)})
		case a.SHA256 != "" && got != a.SHA256:
			problems = append(problems, Problem{Path: a.Path + ".sha256", Line: a.Line,
				Message: fmt.Sprintf("does not match the artifact: want %s, got %s (from %s)", a.SHA256, got, src)})
		case gotH1 == "" && a.SHA256 == "":
			problems = append(problems, Problem{Path: a.Path + ".sha256", Line: a.Line,
				Message: fmt.Sprintf("missing: %s is a file, pinned by its sha256: %q", src, got)})
		}
	}
	return problems
}
