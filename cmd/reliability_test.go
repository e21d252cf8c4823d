package cmd_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/plugctl/plugctl/cmd"
)

// builtPlugins builds the example plugins (once per test binary) and
// returns their directory.
func builtPlugins(t *testing.T) string {
	t.Helper()
	initPluginsDir(t)
	buildOnce.Do(func() { buildErr = buildPlugins(pluginsDir) })
	if buildErr != nil {
		t.Fatalf("build plugins: %v", buildErr)
	}
	return pluginsDir
}

// run runs plugctl in this process with its output in buffers. They lock:
// go-plugin's goroutines for a plugin plugctl has already ended (its stdio
// stream's "received EOF") may still log after Run returns, as they may
// in a plugctl that is exiting.
func run(t *testing.T, home string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut lockedBuffer
	g := &cmd.Global{IO: cmd.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}}
	code = cmd.Run(g, append([]string{"--home", home}, args...))
	return code, out.String(), errOut.String()
}

// installFrom installs the example plugin file as name@1.0.0.
func installFrom(t *testing.T, home, file, name string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	if code, _, stderr := run(t, home, "install", "--from", file, "--sha256", hex.EncodeToString(sum[:]), "--name", name, "--version", "1.0.0"); code != 0 {
		t.Fatalf("install %s: exit %d: %s", name, code, stderr)
	}
}

// health checks its plugins at once, and their output at -v (plugins' logs,
// plugctl's remarks) goes to the one stderr writer: through a lock, or the
// race detector (make test runs under -race) reports concurrent writes to
// the buffer here.
func TestHealthConcurrentOutput(t *testing.T) {
	plugins := builtPlugins(t)
	home := t.TempDir()
	for _, name := range []string{"greeter", "kv"} {
		installFrom(t, home, filepath.Join(plugins, name), name)
	}
	installFrom(t, home, filepath.Join(plugins, "rogue-noisy"), "noisy")
	code, stdout, stderr := run(t, home, "-v", "health", "--timeout", "60s")
	if code != 0 {
		t.Fatalf("health: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"greeter@1.0.0", "kv@1.0.0", "noisy@1.0.0"} {
		if !strings.Contains(stdout, "healthy    "+want) && !strings.Contains(stdout, "healthy  "+want) {
			t.Errorf("health output lacks healthy %s:\n%s", want, stdout)
		}
	}
	// Each line is one plugin's (hclog: "[LEVEL] name: ...") or plugctl's.
	pluginLine := regexp.MustCompile(`^\[(TRACE|DEBUG|INFO|WARN|ERROR)\] +(greeter|kv|noisy)[.:]`)
	for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if !pluginLine.MatchString(l) && !strings.HasPrefix(l, "plugctl: ") {
			t.Errorf("stderr line of no plugin (interleaved output?): %q", l)
		}
	}
}

// 50 plugctl calls at once against one started plugin, 3 rounds: every one
// succeeds with its own answer.
func TestConcurrentWarmCalls(t *testing.T) {
	plugins := builtPlugins(t)
	home := t.TempDir()
	installFrom(t, home, filepath.Join(plugins, "greeter"), "greeter")
	exe, err := exec.LookPath("plugctl")
	if err != nil {
		t.Fatal(err)
	}
	plugctl := func(args ...string) *exec.Cmd {
		c := exec.Command(exe, append([]string{"--home", home}, args...)...)
		c.Dir = home
		return c
	}
	if out, err := plugctl("start", "greeter").CombinedOutput(); err != nil {
		t.Fatalf("start: %v\n%s", err, out)
	}
	t.Cleanup(func() { plugctl("stop", "--all").Run() })
	const n, rounds = 50, 3
	for round := range rounds {
		var wg sync.WaitGroup
		errs := make([]string, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				name := fmt.Sprintf("r%dc%d<&>", round, i)
				c := plugctl("call", "greeter", "Greet", strconv.Quote(name), "--timeout", "120s")
				var stderr bytes.Buffer
				c.Stderr = &stderr
				out, err := c.Output()
				want := fmt.Sprintf("%q\n", "Hello, "+name+"!")
				if err != nil || string(out) != want {
					errs[i] = fmt.Sprintf("call %d: %v: stdout %q, want %q; stderr %s", i, err, out, want, stderr.String())
				}
			}()
		}
		wg.Wait()
		failed := 0
		for _, e := range errs {
			if e != "" {
				failed++
				if failed <= 3 {
					t.Error(e)
				}
			}
		}
		if failed > 0 {
			t.Fatalf("round %d: %d of %d concurrent calls failed", round, failed, n)
		}
	}
	// They were served warm: still the one process.
	out, err := plugctl("ps", "-o", "json").Output()
	if err != nil || !strings.Contains(string(out), `"name": "greeter"`) {
		t.Fatalf("ps after the calls: %v\n%s", err, out)
	}
}

// lockedBuffer is a bytes.Buffer safe for concurrent writes and reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
