package cmd_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestEcosystemDocsRun keeps docs/ecosystems.md and the scripts in step:
// every plugctl command of its Terraform, Grafana, Vault and Nomad sections
// is run, as written, by testdata/script/eco_terraform.txtar,
// eco_grafana.txtar, eco_vault.txtar or eco_nomad.txtar.
func TestEcosystemDocsRun(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "ecosystems.md"))
	if err != nil {
		t.Fatal(err)
	}
	scripts := map[string]string{
		"## Terraform providers":     "eco_terraform.txtar",
		"## Grafana backend plugins": "eco_grafana.txtar",
		"## Vault plugins":           "eco_vault.txtar",
		"## Nomad task drivers":      "eco_nomad.txtar",
	}
	ran := regexp.MustCompile(`^(?:exec|exits \d+|! exec) (plugctl .*)$`)
	checked := 0
	for section, script := range scripts {
		b, err := os.ReadFile(filepath.Join("..", "testdata", "script", script))
		if err != nil {
			t.Fatal(err)
		}
		inScript := map[string]bool{}
		for _, l := range strings.Split(string(b), "\n") {
			if m := ran.FindStringSubmatch(l); m != nil {
				inScript[m[1]] = true
			}
		}
		body := string(doc)
		i := strings.Index(body, section+"\n")
		if i < 0 {
			t.Fatalf("docs/ecosystems.md has no section %q", section)
		}
		body = body[i+len(section):]
		if j := strings.Index(body, "\n## "); j >= 0 {
			body = body[:j]
		}
		inSh := false
		for _, l := range strings.Split(body, "\n") {
			switch {
			case l == "```sh":
				inSh = true
			case l == "```":
				inSh = false
			case inSh && strings.HasPrefix(l, "plugctl "):
				checked++
				if !inScript[l] {
					t.Errorf("docs/ecosystems.md (%s) shows a command that %s does not run:\n%s", section, script, l)
				}
			}
		}
	}
	if checked < 8 {
		t.Errorf("only %d commands found in docs/ecosystems.md: sections or code blocks moved?", checked)
	}
}
