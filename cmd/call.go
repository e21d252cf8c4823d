package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/metadata"

	"github.com/plugctl/plugctl/internal/runner"
	"github.com/plugctl/plugctl/runtime"
	"github.com/plugctl/plugctl/store"
)

// runFlags are the flags of commands that launch a plugin.
type runFlags struct {
	runner.Flags
	decode    bool
	decodeSet bool
}

func (f *runFlags) bind(c *cobra.Command) {
	fl := c.Flags()
	fl.StringVar(&f.MTLS, "mtls", "", "override the index's mtls for this call: auto, true or false")
	fl.StringArrayVar(&f.Proto, "proto", nil, "gRPC schema from a .proto file, for plugins without reflection (repeatable)")
	fl.StringArrayVar(&f.ImportPaths, "import-path", nil, "directory to resolve --proto imports from (repeatable)")
	fl.StringVar(&f.Protoset, "protoset", "", "gRPC schema from a FileDescriptorSet file")
	fl.StringArrayVar(&f.Env, "env", nil, "pass NAME from plugctl's environment to the plugin, or set NAME=VALUE (repeatable; NAME* passes a prefix)")
}

// flags are the run flags as given: --decode only when it was.
func (f *runFlags) flags() runner.Flags {
	rf := f.Flags
	if f.decodeSet {
		d := f.decode
		rf.Decode = &d
	}
	return rf
}

// runner runs the plugins of home p for a command: plugins' output to the
// host logger, -v's remarks to stderr, keepers run as this executable's
// hidden keeper command.
func (g *Global) runner(p store.Paths) *runner.Runner {
	r := &runner.Runner{Home: p, Logger: g.logger(), InheritEnv: g.InheritEnv, KeeperCmd: keeperCommand(p, g.logLevel())}
	if g.Verbose {
		r.Remark = g.Infof
	}
	return r
}

// parseHeaders turns -H 'key: value' flags into gRPC metadata; the keys
// themselves are checked by runtime (runtime.ErrBadMetadata).
func parseHeaders(hdrs []string) (metadata.MD, error) {
	if len(hdrs) == 0 {
		return nil, nil
	}
	md := metadata.MD{}
	for _, h := range hdrs {
		k, v, ok := strings.Cut(h, ":")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, usageErrorf("-H %q: want 'key: value'", h)
		}
		md.Append(k, strings.TrimSpace(v))
	}
	return md, nil
}

// resolveInstalled picks NAME[@VERSION]: the given version, else the active
// one.
func resolveInstalled(p store.Paths, arg string) (*store.Receipt, error) {
	return p.ReadRef(arg)
}

type callOptions struct {
	g       *Global
	Target  string
	Method  string
	Args    string
	Raw     bool
	Batch   bool
	Headers []string
	Run     runFlags
}

func newCallCmd(g *Global) *cobra.Command {
	o := &callOptions{g: g}
	c := &cobra.Command{
		Use:   "call NAME[@VERSION] (METHOD [ARGS] | --batch [FILE])",
		Short: "Launch an installed plugin and call one of its methods",
		Long: `Launch the active (or given) version of an installed plugin through go-plugin,
call METHOD with ARGS (JSON; - reads it from stdin) and print the result as
JSON on stdout. gRPC plugins are called through server reflection, or a
schema from --proto, --protoset or the index. METHOD may be Get when
unique, or proto.KV/Get.

All four kinds of gRPC method are called (describe shows each one's kind).
A unary or client-streaming method prints one JSON line; a server-streaming
or bidirectional one prints one line per message, as each arrives. A
client-streaming or bidirectional method takes a stream of request
messages: with ARGS -, each JSON document on stdin is one message, sent as
it is read, and the end of stdin closes the send side; inline, ARGS is a
JSON array of the messages.

With --batch, FILE (default -, stdin) takes METHOD's place and holds one
request per line, {"id": ANY, "method": "M", "args": JSON, "metadata":
{"k": "v" or ["v1", "v2"]}}; each is answered on one line of stdout, in
order: {"id": ..., "result": JSON} or {"id": ..., "error": {"code": N,
"message": "...", "hint": "..."}}. One plugin process serves the whole
batch (a crash fails the request in flight, and the next one starts it
again); --timeout bounds each request. The exit code is 0 when every
request succeeded, else the first failure's.

A bytes field in ARGS (or an element of a repeated or map bytes field) may be
written as the JSON value it holds (object, array, number, bool): it is sent
as that value's JSON text. A string is base64, and null unset, as in
protojson. --decode prints, for reading, bytes that hold JSON as JSON and a
Terraform DynamicValue's msgpack as JSON; it is on by default for plugins
installed with the terraform or grafana profile (--decode=false: plain
protojson). With the terraform profile, a result holding an ERROR diagnostic
exits 6, the result on stdout and the diagnostics on stderr; with the vault
profile, so does a reply whose err is set, its message on stderr.

net/rpc plugins exchange gob, which is typed: ARGS is sent as the Go type
its JSON suggests (a string as string, true as bool, 42 as int, 1.5 as
float64, an array as a slice, an object as a struct whose exported fields
are its keys, null or no ARGS as a nil interface{}). When the plugin expects
another type, state it wherever a value stands: {"$gob": "TYPE", "value":
VALUE}, TYPE in Go syntax (uint, int64, float32, []byte from base64,
[]string, map[string]int, interface{}); a struct inside an interface{} also
needs "name", the name the plugin registered it under with gob.`,
		Example: `  plugctl call greeter Greet '"world"'
  plugctl call kv proto.KV/Put '{"key": "a", "value": "1"}'
  echo '{"key": "a"}' | plugctl call kv Get -
  plugctl call hello Greet            # go-plugin's examples/basic Greeter (net/rpc)
  plugctl call toolbox Counter '{"$gob": "uint", "value": 5}'
  printf '{"bytesToWrite": "aGk="}\n{"bytesToWrite": "IQ=="}\n' | plugctl call streamer Write -
  plugctl call chat Echo '[{"text": "a"}, {"text": "b"}]'
  plugctl call kv --batch requests.jsonl`,
		Args: args(1, 3),
		RunE: func(cmd *cobra.Command, a []string) error {
			o.Run.decodeSet = cmd.Flags().Changed("decode")
			ctx := cmd.Context()
			if o.Batch {
				o.Target = a[0]
				if len(a) > 2 {
					return usageErrorf("call --batch: wrong number of arguments (usage: plugctl call NAME[@VERSION] --batch [FILE])")
				}
				return batchRun(ctx, o, a[1:])
			}
			if len(a) < 2 {
				return usageErrorf("%s: wrong number of arguments (usage: %s)", cmd.CommandPath(), cmd.UseLine())
			}
			o.Target, o.Method = a[0], a[1]
			if len(a) == 3 {
				o.Args = a[2]
			}
			return callRun(ctx, o)
		},
	}
	c.Flags().BoolVar(&o.Raw, "raw", false, "print a string result without quotes")
	c.Flags().BoolVar(&o.Batch, "batch", false, "read one request per line from FILE (default - for stdin) in METHOD's place and answer one JSON line each; --timeout bounds each request")
	c.Flags().StringArrayVarP(&o.Headers, "header", "H", nil, "gRPC metadata 'key: value' (repeatable)")
	c.Flags().BoolVar(&o.Run.decode, "decode", false, "print bytes holding JSON as JSON, and Terraform's msgpack values as JSON, for reading (default on in the terraform and grafana profiles)")
	o.Run.bind(c)
	return c
}

func callRun(ctx context.Context, o *callOptions) error {
	g := o.g
	args := []byte(o.Args)
	md, err := parseHeaders(o.Headers)
	if err != nil {
		return err
	}
	rf := o.Run.flags()
	co := rf.CallOptions(md)
	if o.Args == "-" {
		// Each JSON document on stdin is a request message, sent as it
		// is read (a method that takes one request takes exactly one).
		args = nil
		co.Requests = runtime.JSONRequests(g.IO.In)
	}
	if len(bytes.TrimSpace(args)) > 0 && !json.Valid(args) {
		return usageErrorf("ARGS is not valid JSON: %s (a string needs quotes: '\"text\"')", truncateArg(string(args)))
	}
	ctx, cancel := g.withRunTimeout(ctx)
	defer cancel()
	emit := func(doc []byte) error {
		if o.Raw {
			var s string
			if json.Unmarshal(doc, &s) == nil {
				_, err := fmt.Fprintln(g.IO.Out, s)
				return err
			}
		}
		_, err := fmt.Fprintf(g.IO.Out, "%s\n", doc)
		return err
	}
	p, err := g.Paths()
	if err != nil {
		return err
	}
	run := g.runner(p)
	r, err := run.Resolve(o.Target, rf)
	if err != nil {
		return err
	}
	return run.Call(ctx, r, rf, o.Method, args, co, emit)
}

func truncateArg(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

func newDescribeCmd(g *Global) *cobra.Command {
	var rf runFlags
	c := &cobra.Command{
		Use:   "describe NAME[@VERSION]",
		Short: "List the methods a plugin offers, with their argument and result shapes",
		Args:  args(1, 1),
		RunE: func(cmd *cobra.Command, a []string) error {
			ctx, cancel := g.withRunTimeout(cmd.Context())
			defer cancel()
			p, err := g.Paths()
			if err != nil {
				return err
			}
			pl, err := g.runner(p).Open(ctx, a[0], rf.flags())
			if err != nil {
				return err
			}
			defer pl.Close()
			if pl.Protocol() == runtime.ProtocolNetRPC {
				return describeNetRPC(g, pl)
			}
			fl := rf.flags()
			d, err := pl.Describe(ctx, fl.CallOptions(nil))
			if err != nil {
				return err
			}
			if g.JSON() {
				return g.PrintJSON(d)
			}
			printDescription(g, d)
			return nil
		},
	}
	rf.bind(c)
	return c
}

// describeNetRPC says honestly what can be said of a net/rpc plugin: its
// methods cannot be listed over the wire.
func describeNetRPC(g *Global, pl *runtime.Plugin) error {
	s := pl.Spec()
	d := s.Protocol.WithDefaults(s.Name).Dispense
	if g.JSON() {
		return g.PrintJSON(map[string]any{
			"name": s.Name, "version": s.Version, "protocol": runtime.ProtocolNetRPC,
			"dispense": d, "services": []any{},
			"note": "net/rpc cannot list its methods",
		})
	}
	g.Printf("%s %s: a net/rpc plugin (dispense name %q).\n", s.Name, s.Version, d)
	g.Printf("net/rpc cannot list its methods over the wire; see the plugin's documentation.\n")
	g.Printf("Call one with:  plugctl call %s METHOD [JSON]   (served as Plugin.METHOD)\n", s.Name)
	return nil
}

func printDescription(g *Global, d *runtime.Description) {
	g.Printf("%s %s (%s, schema from %s)\n", d.Name, d.Version, d.Protocol, d.Schema)
	for _, svc := range d.Services {
		g.Printf("service %s\n", svc.Name)
		for _, m := range svc.Methods {
			req, resp := m.Request, m.Response
			if m.ClientStreaming {
				req = "stream " + req
			}
			if m.ServerStreaming {
				resp = "stream " + resp
			}
			g.Printf("  %s(%s) returns (%s)  [%s]\n", m.Name, req, resp, m.Kind)
		}
	}
	names := make([]string, 0, len(d.Messages))
	for n := range d.Messages {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		msg := d.Messages[n]
		if len(msg.Fields) == 0 {
			continue
		}
		g.Printf("message %s\n", n)
		for _, f := range msg.Fields {
			g.Printf("  %s %s\n", f.JSONName, fieldType(f))
		}
	}
}

func fieldType(f runtime.Field) string {
	t := f.Type
	switch {
	case f.Map != nil:
		v := f.Map.Value
		if f.Map.Message != "" {
			v = f.Map.Message
		} else if f.Map.Enum != "" {
			v = f.Map.Enum
		}
		t = "map<" + f.Map.Key + ", " + v + ">"
	case f.Message != "":
		t = f.Message
	case f.Enum != "":
		t = f.Enum
	}
	if f.Repeated && f.Map == nil {
		t = "repeated " + t
	}
	return t
}
