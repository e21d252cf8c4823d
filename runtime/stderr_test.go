package runtime

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc/metadata"
)

func TestLogWriter(t *testing.T) {
	var out bytes.Buffer
	l := hclog.New(&hclog.LoggerOptions{Output: &out, Level: hclog.Info, DisableTime: true, Name: "p"})
	w := &logWriter{l: l}
	for _, s := range []string{"a\nb", "c\r\n\n", "d"} {
		if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
	if got, want := out.String(), "[INFO]  p: a\n[INFO]  p: bc\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	// A line that never ends is flushed instead of growing without bound.
	out.Reset()
	w.Write(bytes.Repeat([]byte("x"), maxPartial))
	if len(w.buf) != 0 || !strings.HasPrefix(out.String(), "[INFO]  p: dxxx") {
		t.Fatalf("long line kept: %d bytes buffered, %d written", len(w.buf), out.Len())
	}
	// Below the logger's level nothing is kept or written.
	out.Reset()
	l.SetLevel(hclog.Warn)
	w.Write([]byte("quiet\n"))
	if out.Len() != 0 {
		t.Fatalf("wrote %q at Warn", out.String())
	}
}

func TestStderrWatch(t *testing.T) {
	var s stderrWatch
	for _, l := range []string{
		"starting\r\n",
		"panic: first\n",
		"goroutine 1 [running]:\n",
		"panic: second\n",
		cookieNotice + "\n",
		"  \n",
		"last words\n",
		"",
	} {
		s.Write([]byte(l))
	}
	if got := s.panicLine(); got != "panic: first" {
		t.Errorf("panicLine = %q", got)
	}
	if !s.sawCookieNotice() {
		t.Error("cookie notice not seen")
	}
	if got := s.lastLine(); got != "last words" {
		t.Errorf("lastLine = %q", got)
	}
	if got := s.detail(); got != "" {
		t.Errorf("detail after a panic = %q, want none (the panic line is reported)", got)
	}
	var q stderrWatch
	q.Write([]byte(`{"@message":"plugin failed","error":"boom"}` + "\n"))
	if got := q.detail(); got != ": plugin failed: boom" {
		t.Errorf("detail = %q", got)
	}
}

// TestUnderProtocolMetadata: the index's metadata is sent unless the call
// sets the same key.
func TestUnderProtocolMetadata(t *testing.T) {
	got := underProtocolMetadata([]string{"X-Profile: a", "x-both: index", "x-both: index2"}, metadata.MD{"x-both": {"call"}, "x-call": {"c"}})
	want := metadata.MD{"x-profile": {"a"}, "x-both": {"call"}, "x-call": {"c"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if got := underProtocolMetadata(nil, nil); got != nil {
		t.Errorf("no metadata: got %v", got)
	}
}
