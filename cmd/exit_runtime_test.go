package cmd

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/plugctl/plugctl/runtime"
)

// TestRuntimeHints: the CLI's hints for runtime's sentinels, whose own
// messages name no flag.
func TestRuntimeHints(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code int
		hint string
	}{
		{&runtime.PluginError{Name: "p", Op: runtime.OpHandshake, Err: runtime.ErrNoPluginCert}, ExitPlugin, "--mtls auto"},
		{&runtime.PluginError{Name: "p", Op: runtime.OpHandshake, Err: runtime.ErrUnaskedCert}, ExitPlugin, "--mtls true"},
		{fmt.Errorf("run/p@1.0.0.json: %w", runtime.ErrBadRunFile), ExitError, "plugctl doctor"},
		{&runtime.ArgError{Err: fmt.Errorf("%w %q", runtime.ErrBadMetadata, "Bad key")}, ExitUsage, "-H 'key: value'"},
		// Classified by ErrGobType, not by the text: a message without
		// "gob" still gets the $gob hint, and one with it but without the
		// sentinel the request's fields.
		{&runtime.ArgError{Err: fmt.Errorf("argument for Plugin.Upper: the plugin expects string but got int: %w", runtime.ErrGobType)}, ExitUsage, `{"$gob": "TYPE"`},
		{&runtime.ArgError{Method: "proto.Gob/Put", Err: errors.New("unknown field \"gob\"")}, ExitUsage, "request's fields"},
		{fmt.Errorf("plugin p: %w: give its schema as .proto files or a protoset", runtime.ErrNoReflection), ExitError, "--proto FILE"},
		{&runtime.DiagnosticsError{Method: "tfplugin6.Provider/M", Summary: "s", Diagnostics: []json.RawMessage{[]byte(`{"severity":"ERROR","summary":"s"}`)}}, ExitMethod, "holds the diagnostics"},
		{&runtime.DiagnosticsError{Method: "pb.Backend/HandleRequest", Summary: "unsupported path"}, ExitMethod, "holds the error (err)"},
	} {
		code, hint := classify(tc.err)
		if code != tc.code || !strings.Contains(hint, tc.hint) {
			t.Errorf("%v: exit %d, hint %q; want %d and a hint with %q", tc.err, code, hint, tc.code, tc.hint)
		}
		for _, s := range []string{"--", "plugctl "} {
			if strings.Contains(tc.err.Error(), s) {
				t.Errorf("runtime's message %q names %q", tc.err, s)
			}
		}
	}
}

func TestParseHeaders(t *testing.T) {
	md, err := parseHeaders([]string{"x-one: 1", "X-Two:b", "x-one: 2"})
	if err != nil || strings.Join(md["x-one"], ",") != "1,2" || strings.Join(md["x-two"], ",") != "b" || len(md) != 2 {
		t.Errorf("got %v, %v", md, err)
	}
	for _, h := range []string{"novalue", ": x", " : x"} {
		if _, err := parseHeaders([]string{h}); err == nil || !strings.Contains(err.Error(), "-H") {
			t.Errorf("-H %q: %v", h, err)
		}
	}
}
