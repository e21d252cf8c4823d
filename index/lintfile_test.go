package index

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plugctl/plugctl/verify"
)

// TestLintFile: the file's signature beside it makes it a signed index,
// and a missing file is not found.
func TestLintFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "index.yaml")
	var nf *NotFoundError
	if _, err := LintFile(path, LintOptions{}); !errors.As(err, &nf) || nf.What != "index" {
		t.Fatalf("missing index: %v, want a *NotFoundError", err)
	}
	os.WriteFile(path, []byte("apiVersion: plugctl/v1\nplugins: {}\n"), 0o644)
	rep, err := LintFile(path, LintOptions{})
	if err != nil || len(rep.Problems) != 0 {
		t.Fatalf("unsigned index: %v, %v", rep, err)
	}
	os.WriteFile(SignatureAddress(path), []byte("not a signature"), 0o644)
	rep, err = LintFile(path, LintOptions{})
	if err != nil || len(rep.Problems) == 0 || !strings.HasPrefix(rep.Problems[0].String(), "version: missing") {
		t.Fatalf("signed index without version: %v, %v", rep, err)
	}
}

// TestCheckArtifacts: each artifact fetched through the caller's hasher
// (here reading real local files), compared with what the index says.
func TestCheckArtifacts(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "good"), []byte("good"), 0o755)
	os.WriteFile(filepath.Join(dir, "bad"), []byte("bad"), 0o755)
	good, _ := verify.FileSHA256(filepath.Join(dir, "good"))
	doc := "apiVersion: plugctl/v1\nplugins:\n  p:\n    versions:\n" +
		"      \"1.0.0\":\n        linux/amd64: {url: good, sha256: \"" + good + "\"}\n" +
		"      \"1.0.1\":\n        linux/amd64: {url: bad, sha256: \"" + good + "\"}\n" +
		"      \"1.0.2\":\n        linux/amd64: {url: gone, sha256: \"" + good + "\"}\n"
	path := filepath.Join(dir, "index.yaml")
	os.WriteFile(path, []byte(doc), 0o644)
	os.WriteFile(filepath.Join(dir, "gone"), nil, 0o644) // exists for Lint, removed before the fetch
	rep, err := LintFile(path, LintOptions{})
	if err != nil || len(rep.Problems) != 0 || len(rep.Artifacts) != 3 {
		t.Fatalf("LintFile: %+v, %v", rep, err)
	}
	os.Remove(filepath.Join(dir, "gone"))
	hash := func(_ context.Context, src, _ string) (string, string, error) {
		sum, err := verify.FileSHA256(src)
		return sum, "", err
	}
	var got []string
	for _, p := range CheckArtifacts(context.Background(), rep, path, hash) {
		got = append(got, p.String())
	}
	if len(got) != 2 || !strings.HasPrefix(got[0], `plugins.p.versions."1.0.1".linux/amd64.sha256: does not match the artifact`) ||
		!strings.HasPrefix(got[1], `plugins.p.versions."1.0.2".linux/amd64.url: `) {
		t.Errorf("problems:\n%s", strings.Join(got, "\n"))
	}
}
