package loglevel

import (
	"bytes"
	"testing"

	"github.com/hashicorp/go-hclog"
)

func TestOf(t *testing.T) {
	for _, tc := range []struct {
		line string
		want hclog.Level
		ok   bool
	}{
		{`{"@level":"trace","@message":"m","@timestamp":"2026-01-02T15:04:05.000000Z"}`, hclog.Trace, true},
		{`{"@level":"warn","@message":"m"}`, hclog.Warn, true},
		{`{"@level":"error","@message":"m"}` + "\r\n", hclog.Error, true},
		{`2026-12-04T17:27:19.773Z [ERROR] host.kv: plugin process exited`, hclog.Error, true},
		{`[INFO]  kv: keeper listening: socket=/x`, hclog.Info, true},
		{`[DEBUG] plain log.Printf line`, hclog.Debug, true},
		{`{"@message":"no level"}`, hclog.NoLevel, false},
		{`{"level":"warn"}`, hclog.NoLevel, false},
		{`{not json`, hclog.NoLevel, false},
		{`panic: boom`, hclog.NoLevel, false},
		{`1|1|unix|/tmp/plugin1|grpc|`, hclog.NoLevel, false},
		{`a [WARN] in the middle`, hclog.NoLevel, false},
		{``, hclog.NoLevel, false},
	} {
		got, ok := Of([]byte(tc.line))
		if got != tc.want || ok != tc.ok {
			t.Errorf("Of(%q) = %v, %v; want %v, %v", tc.line, got, ok, tc.want, tc.ok)
		}
	}
}

func TestFilter(t *testing.T) {
	in := `{"@level":"trace","@message":"t"}
{"@level":"debug","@message":"d"}
not an hclog line
{"@level":"warn","@message":"w"}
[INFO]  k: keeper
[ERROR] k: failed
{"@level":"error","@message":"e"}
last without newline`
	want := `not an hclog line
{"@level":"warn","@message":"w"}
[ERROR] k: failed
{"@level":"error","@message":"e"}
last without newline`
	var out bytes.Buffer
	f := NewFilter(&out, hclog.Warn)
	// Written in pieces that split lines.
	for i := 0; i < len(in); i += 7 {
		if _, err := f.Write([]byte(in[i:min(i+7, len(in))])); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
	out.Reset()
	f = NewFilter(&out, hclog.Trace)
	f.Write([]byte(in + "\n"))
	f.Close()
	if out.String() != in+"\n" {
		t.Errorf("at trace, lines were dropped:\n%s", out.String())
	}
}
