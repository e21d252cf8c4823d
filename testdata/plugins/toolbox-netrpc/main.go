// Command toolbox-netrpc is a net/rpc go-plugin plugin written like the
// examples/basic Greeter of go-plugin (cookie PLUGCTL_PLUGIN=plugctl, protocol version
// 1, plugin name "toolbox"), with methods covering the argument and reply
// shapes plugctl's generic caller must handle.
package main

import (
	"errors"
	"fmt"
	"net/rpc"
	"os"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
)

// Person is Describe's argument.
type Person struct {
	Name string
	Age  int
	Tags []string
	Meta map[string]string
}

// Summary is Describe's reply.
type Summary struct {
	Greeting string
	Adult    bool
	TagCount int
	MetaKeys []string
	Person   Person
}

// Toolbox is the net/rpc server; each exported method is callable as
// Plugin.<Method>.
type Toolbox struct {
	logger hclog.Logger

	mu    sync.Mutex
	count uint
}

func (t *Toolbox) Upper(s string, resp *string) error {
	*resp = strings.ToUpper(s)
	return nil
}

func (t *Toolbox) Bytes(s string, resp *[]byte) error {
	*resp = []byte(s)
	return nil
}

func (t *Toolbox) Describe(p Person, resp *Summary) error {
	keys := make([]string, 0, len(p.Meta))
	for k := range p.Meta {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	*resp = Summary{
		Greeting: "Hello, " + p.Name + "!",
		Adult:    p.Age >= 18,
		TagCount: len(p.Tags),
		MetaKeys: keys,
		Person:   p,
	}
	return nil
}

func (t *Toolbox) Fail(args interface{}, resp *string) error {
	return fmt.Errorf("boom: %v", args)
}

func (t *Toolbox) Panic(args interface{}, resp *string) error {
	panic(errors.New("toolbox: Panic called"))
}

func (t *Toolbox) Sum(xs []int, resp *int) error {
	for _, x := range xs {
		*resp += x
	}
	return nil
}

// Counter adds n to a counter kept for the life of the process and
// returns the total.
func (t *Toolbox) Counter(n uint, resp *uint) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.count += n
	*resp = t.count
	return nil
}

// Sleep sleeps ms milliseconds and returns ms. It says "sleeping" on its
// stderr first, so that a test can tell when the call is under way.
func (t *Toolbox) Sleep(ms int, resp *int) error {
	fmt.Fprintln(os.Stderr, "sleeping")
	time.Sleep(time.Duration(ms) * time.Millisecond)
	*resp = ms
	return nil
}

// Echo returns its argument: an interface{} in, an interface{} out.
func (t *Toolbox) Echo(args interface{}, resp *interface{}) error {
	*resp = args
	return nil
}

// Log logs msg once at each level, trace to error, with its logger (hclog's
// JSON on stderr, which go-plugin forwards to the host's logger), and
// returns how many lines it logged.
func (t *Toolbox) Log(msg string, resp *int) error {
	for _, l := range []hclog.Level{hclog.Trace, hclog.Debug, hclog.Info, hclog.Warn, hclog.Error} {
		t.logger.Log(l, msg+" at "+l.String())
		*resp++
	}
	return nil
}

// Print writes s to the plugin's stdout and stderr, which go-plugin sends
// to the host over its stdout and stderr streams.
func (t *Toolbox) Print(s string, resp *bool) error {
	fmt.Fprintln(os.Stdout, "stdout: "+s)
	fmt.Fprintln(os.Stderr, "stderr: "+s)
	*resp = true
	return nil
}

// Process describes the plugin's own process, as Self returns it: what
// plugctl started it with.
type Process struct {
	Pid, Pgid int
	Args      []string
	Env       []string // sorted
	Dir       string
}

// Self returns the plugin's process id, arguments, environment and working
// directory, so that tests can compare how plugctl starts a plugin.
func (t *Toolbox) Self(args interface{}, resp *Process) error {
	pgid, _ := syscall.Getpgid(0)
	dir, _ := os.Getwd()
	env := os.Environ()
	sort.Strings(env)
	*resp = Process{Pid: os.Getpid(), Pgid: pgid, Args: os.Args, Env: env, Dir: dir}
	return nil
}

// ToolboxPlugin serves Toolbox over net/rpc.
type ToolboxPlugin struct{ Impl *Toolbox }

func (p *ToolboxPlugin) Server(*plugin.MuxBroker) (interface{}, error) { return p.Impl, nil }

func (p *ToolboxPlugin) Client(b *plugin.MuxBroker, c *rpc.Client) (interface{}, error) {
	return nil, errors.New("toolbox: no Go client; call it through plugctl")
}

var handshakeConfig = plugin.HandshakeConfig{
	ProtocolVersion:  1,
	MagicCookieKey:   "PLUGCTL_PLUGIN",
	MagicCookieValue: "plugctl",
}

func main() {
	logger := hclog.New(&hclog.LoggerOptions{
		Level:      hclog.Trace,
		Output:     os.Stderr,
		JSONFormat: true,
	})
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: handshakeConfig,
		Plugins: map[string]plugin.Plugin{
			"toolbox": &ToolboxPlugin{Impl: &Toolbox{logger: logger}},
		},
	})
}
