package fastpath

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/plugctl/plugctl/internal/keepwire"
	"github.com/plugctl/plugctl/internal/prestart"
	"github.com/plugctl/plugctl/store/layout"
)

// EnvFastPath turns the fast path off ("off") or makes it say what it did
// ("trace").
const EnvFastPath = "PLUGCTL_FASTPATH"

// DefaultTimeout bounds a call when --timeout is not given; it is the
// call command's default too (cmd.DefaultRunTimeout).
const DefaultTimeout = 60 * time.Second

// Result is a call the fast path made that did not succeed.
type Result struct {
	args []string
	// Name is the plugin's name.
	Name string
	// Err is keepwire.Call's error; nil when Interrupted.
	Err error
	// Interrupted is set when SIGINT or SIGTERM ended the call.
	Interrupted bool
}

var made *Result

// Outcome is the failed or interrupted call that the fast path made for
// the command line args, or nil when it made none.
func Outcome(args []string) *Result {
	if made == nil || !slices.Equal(made.args, args) {
		return nil
	}
	return made
}

func init() {
	mode := os.Getenv(EnvFastPath)
	if mode == "off" {
		return
	}
	why := serve(os.Args[min(1, len(os.Args)):]) // argv may be empty (execve allows it)
	if mode == "trace" && why != "" {
		os.Stderr.WriteString("plugctl: fast path: " + why + "\n")
	}
}

// call is what the fast path understood of a command line.
type call struct {
	home, name, version, method string
	args                        []byte
}

// parse accepts [--home DIR | --home=DIR]... call NAME[@VERSION] METHOD
// [ARGS] and nothing else; why says what it did not accept.
func parse(args []string) (c call, why string) {
	i := 0
	for ; i < len(args) && args[i] != "call"; i++ {
		a := args[i]
		switch {
		case a == "--home" && i+1 < len(args):
			i++
			c.home = args[i]
		case strings.HasPrefix(a, "--home="):
			c.home = a[len("--home="):]
		default:
			return c, "not a plain call"
		}
	}
	if i == len(args) {
		return c, "not a plain call"
	}
	rest := args[i+1:]
	for _, a := range rest {
		if strings.HasPrefix(a, "-") {
			return c, "a flag, or ARGS from stdin"
		}
	}
	if len(rest) < 2 || len(rest) > 3 {
		return c, "not a plain call"
	}
	name, version, at := strings.Cut(rest[0], "@")
	version = strings.TrimPrefix(version, "v") // the command's splitExact does the same
	if !layout.ValidName(name) || (at && !layout.ValidVersion(version)) {
		return c, "not a plugin name"
	}
	c.name, c.version, c.method = name, version, rest[1]
	if len(rest) == 3 {
		c.args = []byte(rest[2])
	}
	return c, ""
}

// serve makes the call if it can; it returns when it did not, or the call
// failed, saying why on trace.
func serve(args []string) (why string) {
	c, why := parse(args)
	if why != "" {
		return why
	}
	for _, kv := range os.Environ() {
		if k, v, _ := strings.Cut(kv, "="); v != "" && strings.HasPrefix(k, "PLUGCTL_") && !callIgnores(k) {
			return k + " is set"
		}
	}
	if c.home == "" {
		c.home = os.Getenv(layout.EnvHome)
	}
	if c.home == "" {
		u, err := os.UserHomeDir()
		if err != nil {
			return "no home directory"
		}
		c.home = layout.Join(strings.TrimRight(u, "/"), layout.HomeDirName) // HOME=/root/ is usual enough
	}
	if !clean(c.home) {
		return "the home is not a clean absolute path"
	}
	if c.version == "" {
		b, err := layout.ReadFileMax(layout.CurrentFile(c.home, c.name), layout.MaxRecordBytes)
		if err != nil {
			return "no active version: " + err.Error()
		}
		if c.version = layout.ParseCurrent(b); !layout.ValidVersion(c.version) {
			return "no active version"
		}
	}
	trimmed := strings.TrimSpace(string(c.args))
	if trimmed != "" && !json.Valid(c.args) {
		return "ARGS is not JSON"
	}
	if len(c.args) > keepwire.MaxRequest/2 {
		return "ARGS too large"
	}
	sock := layout.KeeperSocket(c.home, c.name, c.version)
	if sock == "" {
		return "the keeper's socket path is too long"
	}
	conn, err := keepwire.Dial(sock)
	if err != nil {
		// A cold call: start the plugin now, so that its start-up
		// overlaps plugctl's; runtime.Launch adopts it.
		return "no keeper: " + err.Error() + "; " + prestart.Start(c.home, c.name, c.version)
	}
	defer conn.Close()

	// Ctrl-C or SIGTERM hangs up, which cancels the call; the call command
	// then says so (Outcome).
	sctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(sctx, DefaultTimeout)
	defer cancel()
	req := keepwire.Request{Target: c.name + "@" + c.version, Method: c.method}
	if trimmed != "" {
		raw := json.RawMessage(c.args)
		req.Args = &raw
	}
	err = keepwire.Call(ctx, conn, req, func(doc []byte) error {
		_, err := os.Stdout.Write(append(doc, '\n'))
		return err
	})
	var declined *keepwire.DeclinedError
	switch {
	case err == nil:
		os.Exit(0)
	case errors.As(err, &declined):
		return declined.Error()
	}
	made = &Result{args: args, Name: c.name, Err: err}
	if sctx.Err() != nil {
		made.Interrupted, made.Err = true, nil
	}
	return "the call failed: " + err.Error()
}

// callIgnores reports whether the call command ignores the PLUGCTL_
// variable k, or reads it as the fast path does. Any other is one the
// command checks (PLUGCTL_MAX_BYTES, PLUGCTL_IDLE_TIMEOUT refuse bad values
// before any command runs), or one that is new: the call command decides.
func callIgnores(k string) bool {
	switch k {
	case layout.EnvHome, EnvFastPath, "PLUGCTL_CORE", "PLUGCTL_INDEX_TTL", "PLUGCTL_KEY_PASSWORD":
		return true
	}
	return strings.HasPrefix(k, "PLUGCTL_TOKEN_")
}

// clean reports whether p is an absolute path that filepath.Clean leaves
// as it is, so that it is the home that store.New makes of it.
func clean(p string) bool {
	if !strings.HasPrefix(p, "/") {
		return false
	}
	if p == "/" {
		return true
	}
	return !strings.HasSuffix(p, "/") && !strings.Contains(p, "//") &&
		!strings.Contains(p+"/", "/./") && !strings.Contains(p+"/", "/../")
}
