package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// goBlock is a fenced Go code block of a Markdown page.
var goBlock = regexp.MustCompile("(?s)```go\n(.*?)```")

// TestDocSnippetsBuild compiles every complete program (a Go block starting
// with "package main") in README.md and docs/*.md against the packages as
// they are, so that an API change cannot leave the documentation showing
// code that no longer compiles. The programs are laid over directories that
// do not exist (-overlay): nothing is written into the repository.
func TestDocSnippetsBuild(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH: the snippets are built with it")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	pages, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	pages = append([]string{filepath.Join(root, "README.md")}, pages...)

	tmp := t.TempDir()
	replace := map[string]string{}
	var pkgs []string
	where := map[string]string{} // package path -> page and block, for messages
	for _, page := range pages {
		b, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for i, m := range goBlock.FindAllStringSubmatch(string(b), -1) {
			if !strings.HasPrefix(m[1], "package main\n") {
				continue // a fragment, not a program
			}
			rel, _ := filepath.Rel(root, page)
			name := strings.NewReplacer("/", "_", ".", "_").Replace(rel) + "_" + string(rune('a'+i))
			src := filepath.Join(tmp, name+".go")
			if err := os.WriteFile(src, []byte(m[1]), 0o644); err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(root, "internal", "gendocs", "testdata", "snippets", name)
			replace[filepath.Join(dir, "main.go")] = src
			pkg := "./" + filepath.ToSlash(must(filepath.Rel(root, dir)))
			pkgs = append(pkgs, pkg)
			where[pkg] = rel + ", Go block " + string(rune('1'+i))
		}
	}
	if len(pkgs) < 2 {
		t.Fatalf("found %d programs in README.md and docs/*.md; the host-library and SDK examples should be there", len(pkgs))
	}
	overlay, err := json.Marshal(map[string]any{"Replace": replace})
	if err != nil {
		t.Fatal(err)
	}
	ov := filepath.Join(tmp, "overlay.json")
	if err := os.WriteFile(ov, overlay, 0o644); err != nil {
		t.Fatal(err)
	}
	// go list -export compiles each program (type errors included) without
	// linking it; one run for all, each error naming its package, which
	// names the page and block.
	cmd := exec.Command(gobin, append([]string{"list", "-export", "-overlay", ov}, pkgs...)...)
	cmd.Dir = root
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		var broken []string
		for _, pkg := range pkgs {
			if strings.Contains(stderr.String(), filepath.Base(pkg)) {
				broken = append(broken, where[pkg])
			}
		}
		t.Fatalf("documented programs do not compile (%s): %v\n%s\nfix the page, or the API change that broke it", strings.Join(broken, "; "), err, stderr.String())
	}
	t.Logf("compiled %d documented programs", len(pkgs))
}

func must(s string, err error) string {
	if err != nil {
		panic(err)
	}
	return s
}
