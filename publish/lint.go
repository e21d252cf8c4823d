package publish

import (
	"context"
	"os"
	"path/filepath"

	"github.com/plugctl/plugctl/fetch"
	"github.com/plugctl/plugctl/index"
	"github.com/plugctl/plugctl/install"
)

// Lint checks the index file strictly (index.LintFile), INDEX.minisig
// against keys when given, and, when f is not nil, also downloads every
// artifact with f and compares its hashes with the index's. It returns the
// report and every problem found.
func Lint(ctx context.Context, file string, keys []string, f *fetch.Fetcher) (*index.LintReport, []index.Problem, error) {
	rep, err := index.LintFile(file, index.LintOptions{Keys: keys})
	if err != nil {
		return nil, nil, err
	}
	problems := rep.Problems
	if f == nil {
		return rep, problems, nil
	}
	tmp, err := os.MkdirTemp("", "plugctl-lint-")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(tmp)
	hash := func(ctx context.Context, src, bin string) (string, string, error) {
		return install.ArtifactHashes(ctx, f, tmp, src, bin)
	}
	base, err := filepath.Abs(file)
	if err != nil {
		return nil, nil, err
	}
	return rep, append(problems, index.CheckArtifacts(ctx, rep, base, hash)...), nil
}
