package cmd_test

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestFrontEnd builds plugctl as make build does, the front end (-tags
// plugctl_lean) and plugctl-core beside it, and runs against that pair
// scripts of the commands the front end serves itself (it must behave as
// plugctl-core does: calls, their failures and exit codes, warm plugins and
// their keepers) and those of testdata/script/front (handing commands over). Every other script runs against the whole CLI in TestScripts.
func TestFrontEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds plugctl twice and runs the example plugins (make check runs it)")
	}
	bin := t.TempDir()
	build := func(out string, tags ...string) {
		args := []string{"build", "-o", filepath.Join(bin, out)}
		if raceEnabled {
			args = append(args, "-race")
		}
		args = append(args, tags...)
		c := exec.Command("go", append(args, ".")...)
		c.Dir = ".."
		if b, err := c.CombinedOutput(); err != nil {
			t.Fatalf("go %v: %v\n%s", args, err, b)
		}
	}
	build("plugctl", "-tags", "plugctl_lean")
	build("plugctl-core")
	for _, exe := range []string{"plugctl", "plugctl-core"} {
		checkFastPathInitsEarly(t, filepath.Join(bin, exe))
		checkEmptyArgv(t, filepath.Join(bin, exe))
	}
	var files []string
	// call_netrpc is left out: its gob conversions are the same code in both
	// builds, and under -race each script here costs CI about half a minute.
	for _, f := range []string{"call_grpc", "call_failures", "warm", "fastpath", "prestart"} {
		files = append(files, filepath.Join("..", "testdata", "script", f+".txtar"))
	}
	front, err := filepath.Glob(filepath.Join("..", "testdata", "script", "front", "*.txtar"))
	if err != nil || len(front) == 0 {
		t.Fatalf("no scripts in testdata/script/front: %v", err)
	}
	files = append(files, front...)
	testscript.Run(t, scriptParams(t, "", files, func(env *testscript.Env) {
		// The pair comes first on $PATH, before the test binary's own
		// plugctl (the whole CLI, in-process).
		env.Setenv("FRONT_BIN", bin)
		env.Setenv("PATH", bin+string(os.PathListSeparator)+env.Getenv("PATH"))
	}))
}

// checkFastPathInitsEarly runs exe with GODEBUG=inittrace=1 and checks that
// internal/fastpath is initialised before grpc, protobuf, go-plugin and
// net: the whole point of the fast path (see its package documentation) is
// that it runs before their package initialisation, an order that depends
// on import paths and on what fastpath, keepwire and store/layout import.
func checkFastPathInitsEarly(t *testing.T, exe string) {
	t.Helper()
	c := exec.Command(exe, "ps", "--home", t.TempDir())
	c.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	var stderr bytes.Buffer
	c.Stderr = &stderr
	if err := c.Run(); err != nil {
		t.Fatalf("%s ps: %v\n%s", exe, err, stderr.Bytes())
	}
	var order []string
	sc := bufio.NewScanner(&stderr)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) > 1 && f[0] == "init" {
			order = append(order, f[1])
		}
	}
	fp := slices.Index(order, "github.com/plugctl/plugctl/internal/fastpath")
	if fp < 0 {
		t.Fatalf("%s: internal/fastpath is not initialised (inittrace: %q)", exe, order)
	}
	for _, heavy := range []string{
		"google.golang.org/protobuf/reflect/protodesc",
		"google.golang.org/grpc",
		"github.com/hashicorp/go-plugin/internal/plugin",
		"net",
		"crypto/tls",
	} {
		if i := slices.Index(order, heavy); i < 0 || i < fp {
			t.Errorf("%s: %s is initialised at %d, internal/fastpath at %d: the fast path no longer runs before it", exe, heavy, i, fp)
		}
	}
}

// checkEmptyArgv runs exe with no argv at all, not even its name (execve
// allows it): plugctl must not panic before or after the fast path, and
// behaves as with no arguments (help).
func checkEmptyArgv(t *testing.T, exe string) {
	t.Helper()
	out, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	p, err := os.StartProcess(exe, []string{}, &os.ProcAttr{Files: []*os.File{nil, out, out}})
	if err != nil {
		t.Fatal(err)
	}
	st, err := p.Wait()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(out.Name())
	if !st.Success() || !bytes.Contains(b, []byte("Usage:")) {
		t.Errorf("%s with an empty argv: %v\n%s", exe, st, b)
	}
}
