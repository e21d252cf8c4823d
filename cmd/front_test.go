package cmd_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestFrontEnd builds plugctl as make build does, the front end (-tags
// plugctl_lean) and plugctl-core beside it, and runs against that pair
// scripts of the commands the front end serves itself (it must behave as
// plugctl-core does: calls, their failures and exit codes, warm plugins and
// their keepers) and those of testdata/script/front (handing commands over). Every other script runs against the whole CLI in TestScripts.
func TestFrontEnd(t *testing.T) {
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
	var files []string
	// call_netrpc is left out: its gob conversions are the same code in both
	// builds, and under -race each script here costs CI about half a minute.
	for _, f := range []string{"call_grpc", "call_failures", "warm"} {
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
