package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGenerate(t *testing.T) {
	dir := t.TempDir()
	if err := generate("markdown", filepath.Join(dir, "md")); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "md", "plugctl_install.md"))
	if err != nil || !strings.Contains(string(b), "plugctl install NAME[@CONSTRAINT]") {
		t.Fatalf("install page: %v\n%s", err, b)
	}
	if err := generate("man", filepath.Join(dir, "man")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "man", "plugctl-call.1")); err != nil {
		t.Fatal(err)
	}
	if err := generate("pdf", dir); err == nil {
		t.Fatal("unknown format accepted")
	}
}
