package cmd_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/plugctl/plugctl/cmd"
)

// pluginsDir holds the example plugins, built once per test run.
var pluginsDir string

func TestMain(m *testing.M) {
	cmd.EnableTestHooks()
	testscript.Main(removePlugins{m}, map[string]func(){
		"plugctl": func() { os.Exit(cmd.Main()) },
	})
}

// removePlugins removes the example plugins built for the tests once they
// have all run.
type removePlugins struct{ *testing.M }

func (m removePlugins) Run() int {
	if signal.Ignored(os.Interrupt) {
		// Started as a shell's background job: the processes the scripts
		// run would inherit the ignored SIGINT. Handled here (by dropping
		// it), SIGINT is at its default in them, as from a terminal.
		signal.Notify(make(chan os.Signal, 1), os.Interrupt)
	}
	code := m.M.Run()
	if pluginsDir != "" && os.Getenv("PLUGCTL_TEST_PLUGINS") == "" {
		os.RemoveAll(pluginsDir)
	}
	return code
}

func TestScripts(t *testing.T) {
	testscript.Run(t, scriptParams(t, filepath.Join("..", "testdata", "script"), nil, nil))
}

// scriptParams are the testscript parameters of the scripts in dir (or of
// files), with setup run last in each script's Setup.
func scriptParams(t *testing.T, dir string, files []string, setup func(env *testscript.Env)) testscript.Params {
	initPluginsDir(t)
	return testscript.Params{
		Dir:                 dir,
		Files:               files,
		RequireExplicitExec: true,
		Condition:           toolCondition,
		Setup: func(env *testscript.Env) error {
			env.Setenv("PLUGINS", pluginsDir)
			root, _ := filepath.Abs("..")
			env.Setenv("ROOT", root)
			env.Setenv("PLUGCTL_HOME", filepath.Join(env.WorkDir, "home"))
			env.Setenv("GOOS_GOARCH", runtimeOSArch())
			env.Setenv("ECOSYSTEMS", ecosystemsDir())
			env.Setenv(cmd.EnvTestPluginLog, filepath.Join(env.WorkDir, pluginLogFile))
			// A script that fails before its `stop --all` must not leave
			// detached plugins running.
			env.Defer(func() { stopStartedPlugins(env) })
			// Deferred functions run in order: the logs are complete.
			env.Defer(func() { showLogsOnFailure(env) })
			if setup != nil {
				setup(env)
			}
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"httpserve":   cmdHTTPServe,
			"sha256":      cmdSHA256,
			"expand":      cmdExpand,
			"snapshot":    cmdSnapshot,
			"unchanged":   cmdUnchanged,
			"gitdaemon":   cmdGitDaemon,
			"hits":        cmdHits,
			"plugins":     cmdPlugins,
			"exits":       cmdExits,
			"json":        cmdJSON,
			"hostile":     cmdHostile,
			"mkarchive":   cmdMkArchive,
			"waitfile":    cmdWaitFile,
			"registry":    cmdRegistry,
			"stall":       cmdStall,
			"setvar":      cmdSetVar,
			"httpstop":    cmdHTTPStop,
			"corruptblob": cmdCorruptBlob,
			"procgone":    cmdProcGone,
			"homeprocs":   cmdHomeProcs,
			"killstart":   cmdKillStart,
			"brokerleave": cmdBrokerLeave,
			"holdlock":    cmdHoldLock,
			"treehash":    cmdTreeHash,
			"waitexec":    cmdWaitExec,
		},
	}
}

// ecosystemsDir is where the SDK test plugins were built
// (PLUGCTL_ECOSYSTEMS), or "" when they were not.
func ecosystemsDir() string {
	d := os.Getenv("PLUGCTL_ECOSYSTEMS")
	if d == "" {
		return ""
	}
	d, err := filepath.Abs(d)
	if err != nil {
		return ""
	}
	for _, f := range []string{"tfprovider", "grafanads", "tfplugin6.proto", "backend.proto"} {
		if _, err := os.Stat(filepath.Join(d, f)); err != nil {
			return ""
		}
	}
	return d
}

// The logs a failed script shows, in $WORK: what its plugins printed
// (cmd.EnvTestPluginLog), the requests its servers got, git daemon's
// stderr; and the logs of the plugins it started, in each home's run/.
const (
	pluginLogFile = ".plugins.log"
	serverLogFile = ".servers.log"
	gitLogFile    = ".gitdaemon.log"
)

// showLogsOnFailure gathers the logs of a script that failed, before its
// $WORK is removed, and prints them after the script's own log.
func showLogsOnFailure(env *testscript.Env) {
	t, ok := env.T().(interface {
		Failed() bool
		Cleanup(func())
		Log(...any)
	})
	if !ok || !t.Failed() {
		return
	}
	files := []string{pluginLogFile, serverLogFile, gitLogFile}
	runLogs, _ := filepath.Glob(filepath.Join(env.WorkDir, "*", "run", "*.log"))
	for _, l := range runLogs {
		rel, _ := filepath.Rel(env.WorkDir, l)
		files = append(files, rel)
	}
	var b strings.Builder
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(env.WorkDir, f))
		if err != nil || len(data) == 0 {
			continue
		}
		const max = 32 << 10
		if len(data) > max {
			data = append([]byte("[...]"), data[len(data)-max:]...)
		}
		fmt.Fprintf(&b, "\n--- $WORK/%s ---\n%s", f, data)
	}
	if b.Len() == 0 {
		b.WriteString(" none")
	}
	logs := b.String()
	t.Cleanup(func() { t.Log("logs of the failed script (plugins, servers):" + logs) })
}

// EnvRequireTools makes a missing tool fail the scripts that need it
// instead of skipping them (make check sets it: CI installs every tool).
const EnvRequireTools = "PLUGCTL_TEST_REQUIRE_TOOLS"

// toolCondition is [tool:NAME]: NAME is on $PATH. A script that needs an
// outside tool skips without it ([!tool:minisign] skip 'why'), unless
// EnvRequireTools is set, where its absence is an error.
//
// [ecosystems]: the SDK test plugins were built. They take minutes to
// build: make check builds them (scripts/build-ecosystem-plugins.sh) and
// names them in PLUGCTL_ECOSYSTEMS, and with EnvRequireTools set their
// absence is an error; make test does not build them.
func toolCondition(cond string) (bool, error) {
	if cond == "ecosystems" {
		if ecosystemsDir() != "" {
			return true, nil
		}
		if os.Getenv(EnvRequireTools) != "" {
			return false, fmt.Errorf("the SDK test plugins are not built (PLUGCTL_ECOSYSTEMS), and %s is set: make ecosystem-plugins builds them", EnvRequireTools)
		}
		return false, nil
	}
	name, ok := strings.CutPrefix(cond, "tool:")
	if !ok || name == "" {
		return false, fmt.Errorf("unknown condition %q (want tool:NAME)", cond)
	}
	if _, err := exec.LookPath(name); err == nil {
		return true, nil
	}
	if os.Getenv(EnvRequireTools) != "" {
		return false, fmt.Errorf("%s is not installed, and %s is set: make setup-tools (and make setup-js for npm) installs what the tests need", name, EnvRequireTools)
	}
	return false, nil
}

var pluginsOnce sync.Once

// initPluginsDir picks the directory the plugins command builds the example
// plugins into, once per test binary.
func initPluginsDir(t *testing.T) {
	pluginsOnce.Do(func() {
		if dir := os.Getenv("PLUGCTL_TEST_PLUGINS"); dir != "" {
			// Plugins built beforehand (make plugins): saves the build
			// when iterating on scripts; CI always builds them afresh.
			pluginsDir = dir
			buildOnce.Do(func() {})
			return
		}
		d, err := os.MkdirTemp("", "plugctl-test-plugins-")
		if err != nil {
			t.Fatal(err)
		}
		pluginsDir = d
	})
}

func runtimeOSArch() string { return cmd.Platform() }

// exits N PROG ARGS...: run PROG and require exit code N (the documented
// exit codes are part of the interface, not just "non-zero").
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits N PROG [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			ts.Fatalf("%s: %v", args[1], err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited %d, want %d", args[1], got, want)
	}
}

var (
	buildOnce sync.Once
	buildErr  error
)

// plugins: build every example plugin into $PLUGINS, once per test run
// (scripts that need none do not pay for it). Building and running them is
// most of the suite's time: a script that needs them is skipped with -short
// (make test), and says so first ([short] skip).
func cmdPlugins(ts *testscript.TestScript, neg bool, args []string) {
	if testing.Short() {
		ts.Fatalf("plugins with -short: begin the script with [short] skip 'why'")
	}
	buildOnce.Do(func() { buildErr = buildPlugins(pluginsDir) })
	if buildErr != nil {
		ts.Fatalf("build plugins: %v", buildErr)
	}
}

func buildPlugins(dir string) error {
	c := exec.Command("bash", "scripts/build-plugins.sh", dir)
	c.Dir = ".."
	out, err := c.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v\n%s", err, out)
	}
	return nil
}

// httpserve [-token T] DIR [VAR]: serve DIR on 127.0.0.1 and set $VAR
// (default SERVER) to its base URL. /status/NNN/... answers NNN. With
// -token, every request without "Authorization: Bearer T" gets 401.
// Requests are counted (see hits).
func cmdHTTPServe(ts *testscript.TestScript, neg bool, args []string) {
	token := ""
	if len(args) > 1 && args[0] == "-token" {
		token, args = args[1], args[2:]
	}
	if neg || len(args) < 1 || len(args) > 2 {
		ts.Fatalf("usage: httpserve [-token T] DIR [VAR]")
	}
	dir := ts.MkAbs(args[0])
	name := "SERVER"
	if len(args) == 2 {
		name = args[1]
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	var hits atomic.Int64
	fs := http.FileServer(http.Dir(dir))
	logRequest := serverLog(ts, name)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		logRequest(r)
		if token != "" && r.Header.Get("Authorization") != "Bearer "+token {
			http.Error(w, "token required", http.StatusUnauthorized)
			return
		}
		if rest, ok := strings.CutPrefix(r.URL.Path, "/status/"); ok {
			code, _ := strconv.Atoi(strings.SplitN(rest, "/", 2)[0])
			http.Error(w, http.StatusText(code), code)
			return
		}
		fs.ServeHTTP(w, r)
	})}
	go srv.Serve(ln)
	ts.Defer(func() { srv.Close() })
	httpServers.Store(ts.Getenv("WORK")+" "+name, srv)
	ts.Setenv(name, "http://"+ln.Addr().String())
	// The variable that carries a bearer token for this server.
	ts.Setenv(name+"_TOKENVAR", "PLUGCTL_TOKEN_"+strings.NewReplacer(".", "_", ":", "_").Replace(ln.Addr().String()))
	hitCounters.Store(ts.Getenv("WORK")+" "+name, &hits)
}

var hitCounters syncMap

// serverLog returns a function that appends a line for each request to
// server name of the script to its $WORK/.servers.log.
func serverLog(ts *testscript.TestScript, name string) func(*http.Request) {
	f, err := os.OpenFile(filepath.Join(ts.Getenv("WORK"), serverLogFile), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	ts.Check(err)
	ts.Defer(func() { f.Close() })
	var mu sync.Mutex
	return func(r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(f, "%s %s %s %s\n", time.Now().Format("15:04:05.000"), name, r.Method, r.URL.RequestURI())
	}
}

// hits VAR N: the server of httpserve ... VAR has had exactly N requests.
func cmdHits(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: hits VAR N")
	}
	c, ok := hitCounters.Load(ts.Getenv("WORK") + " " + args[0])
	if !ok {
		ts.Fatalf("no server %s", args[0])
	}
	want, _ := strconv.ParseInt(args[1], 10, 64)
	got := c.Load()
	if (got == want) == neg {
		ts.Fatalf("server %s: %d requests, want %s%d", args[0], got, map[bool]string{true: "not ", false: ""}[neg], want)
	}
}

// sha256 FILE VAR: set $VAR to the hex SHA-256 of FILE.
func cmdSHA256(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: sha256 FILE VAR")
	}
	b, err := os.ReadFile(ts.MkAbs(args[0]))
	ts.Check(err)
	sum := sha256.Sum256(b)
	ts.Setenv(args[1], hex.EncodeToString(sum[:]))
}

// expand FILE...: replace $VAR and ${VAR} in each FILE with the script's
// environment.
func cmdExpand(ts *testscript.TestScript, neg bool, args []string) {
	for _, f := range args {
		p := ts.MkAbs(f)
		b, err := os.ReadFile(p)
		ts.Check(err)
		ts.Check(os.WriteFile(p, []byte(os.Expand(string(b), ts.Getenv)), 0o644))
	}
}

// snapshot DIR NAME / unchanged DIR NAME: fail unless every file, mode and
// symlink under DIR is as it was at the snapshot (lock files and empty
// directories aside: they carry no state).
func cmdSnapshot(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: snapshot DIR NAME")
	}
	snapshots.Store(ts.Getenv("WORK")+" "+args[1], treeState(ts, ts.MkAbs(args[0])))
}

func cmdUnchanged(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: unchanged DIR NAME")
	}
	before, ok := snapshots.Load(ts.Getenv("WORK") + " " + args[1])
	if !ok {
		ts.Fatalf("no snapshot %s", args[1])
	}
	after := treeState(ts, ts.MkAbs(args[0]))
	if (before == after) == neg {
		if neg {
			ts.Fatalf("%s did not change", args[0])
		}
		ts.Fatalf("%s changed:\nbefore:\n%s\nafter:\n%s", args[0], before, after)
	}
}

var snapshots stringMap

func treeState(ts *testscript.TestScript, dir string) string {
	var lines []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if fi.IsDir() || strings.HasPrefix(rel, "locks"+string(filepath.Separator)) {
			return nil
		}
		line := fmt.Sprintf("%s %v", rel, fi.Mode())
		if fi.Mode().IsRegular() {
			f, err := os.Open(p)
			ts.Check(err)
			h := sha256.New()
			io.Copy(h, f)
			f.Close()
			line += " " + hex.EncodeToString(h.Sum(nil))[:16]
		}
		lines = append(lines, line)
		return nil
	})
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// gitdaemon DIR: serve the repositories under DIR with git daemon on
// 127.0.0.1 and set $GITPORT. The listener is ours, on a port the kernel
// picks, and each connection is handed to a `git daemon --inetd` of its
// own: picking a free port and then asking git daemon to listen on it
// would race every other listener of the parallel scripts. What git daemon
// says goes to gitLogFile.
func cmdGitDaemon(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: gitdaemon DIR")
	}
	dir := ts.MkAbs(args[0])
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	logf, err := os.OpenFile(filepath.Join(ts.Getenv("WORK"), gitLogFile), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	ts.Check(err)
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		running = map[*exec.Cmd]bool{}
		closed  bool
	)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			if closed {
				mu.Unlock()
				conn.Close()
				return
			}
			wg.Add(1)
			mu.Unlock()
			go func() {
				defer wg.Done()
				defer conn.Close()
				f, err := conn.(*net.TCPConn).File()
				if err != nil {
					fmt.Fprintf(logf, "gitdaemon: %v\n", err)
					return
				}
				defer f.Close()
				c := exec.Command("git", "daemon", "--inetd", "--log-destination=stderr", "--export-all",
					"--base-path="+dir, dir)
				c.Stdin, c.Stdout, c.Stderr = f, f, logf
				mu.Lock()
				if closed {
					mu.Unlock()
					return
				}
				err = c.Start()
				if err == nil {
					running[c] = true
				}
				mu.Unlock()
				if err == nil {
					err = c.Wait()
					mu.Lock()
					delete(running, c)
					mu.Unlock()
				}
				if err != nil {
					fmt.Fprintf(logf, "gitdaemon: git daemon --inetd: %v\n", err)
				}
			}()
		}
	}()
	ts.Defer(func() {
		ln.Close()
		mu.Lock()
		closed = true
		for c := range running {
			c.Process.Kill()
		}
		mu.Unlock()
		wg.Wait()
		logf.Close()
	})
	ts.Setenv("GITPORT", strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
}

// json PATH WANT: parse the last command's stdout as JSON and require the
// value at PATH (dot-separated keys and array indexes, "." for the whole
// document) to be WANT, compared as compact JSON ("len" as the last element
// takes the length of an array or object). Proves output is valid JSON,
// not only that it matches a pattern.
func cmdJSON(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: json PATH WANT")
	}
	var doc any
	if err := json.Unmarshal([]byte(ts.ReadFile("stdout")), &doc); err != nil {
		ts.Fatalf("stdout is not JSON: %v", err)
	}
	v := doc
	if args[0] != "." {
		for _, k := range strings.Split(args[0], ".") {
			switch x := v.(type) {
			case map[string]any:
				if k == "len" {
					v = float64(len(x))
					continue
				}
				v = x[k]
			case []any:
				if k == "len" {
					v = float64(len(x))
					continue
				}
				i, err := strconv.Atoi(k)
				if err != nil || i < 0 || i >= len(x) {
					ts.Fatalf("%s: no element %s", args[0], k)
				}
				v = x[i]
			default:
				ts.Fatalf("%s: cannot index %T with %s", args[0], v, k)
			}
		}
	}
	got, _ := json.Marshal(v)
	if (string(got) == args[1]) == neg {
		ts.Fatalf("%s = %s, want %s%s", args[0], got, map[bool]string{true: "not ", false: ""}[neg], args[1])
	}
}
