package batch

import (
	"context"
	"errors"
	"io"
	"sort"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		line, id, method, args, md, err string
	}{
		{line: `{"id": 1, "method": "Get", "args": {"key": "a"}}`, id: `1`, method: "Get", args: `{"key": "a"}`},
		{line: `{"method": "Get"}`, id: `null`, method: "Get"},
		{line: `{"id": {"a": [1, 2]}, "method": "M", "args": null}`, id: `{"a":[1,2]}`, method: "M"},
		{line: `{"id": "x", "method": "M", "metadata": {"b": ["1", "2"], "a": "0"}}`, id: `"x"`, method: "M", md: "a: 0|b: 1|b: 2"},
		{line: `not json`, id: `null`, err: "line 1: not a request"},
		{line: `{"id": 7, "method": "M", "arg": 1}`, id: `7`, err: `unknown field "arg"`},
		{line: `{"id": 7}`, id: `7`, err: `no "method"`},
		{line: `{"id": 7, "method": "M"} {"id": 8}`, id: `null`, err: "more than one JSON value"},
		{line: `{"id": 7, "method": "M", "metadata": {"k": 5}}`, id: `7`, err: `metadata "k": want a string or an array of strings`},
		{line: `{"id": 7, "method": "M", "metadata": {"k": null}}`, id: `7`, err: `metadata "k"`},
		{line: `{"id": 7, "method": "M", "metadata": {"K:x": "v"}}`, id: `7`, method: "M", md: "k:x: v"},
		{line: `[1, 2]`, id: `null`, err: "not a request"},
	} {
		req, id, err := parse(1, []byte(tc.line))
		if string(id) != tc.id {
			t.Errorf("%s: id %s, want %s", tc.line, id, tc.id)
		}
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !IsLineError(err) {
				t.Errorf("%s: error %v, want a line error saying %q", tc.line, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.line, err)
			continue
		}
		if req.Method != tc.method || string(req.args) != tc.args || mdString(req.metadata) != tc.md {
			t.Errorf("%s: got %q %q %q", tc.line, req.Method, req.args, req.metadata)
		}
	}
}

// mdString renders metadata as "k: v" pairs, keys in order, joined by "|".
func mdString(md metadata.MD) string {
	keys := make([]string, 0, len(md))
	for k := range md {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []string
	for _, k := range keys {
		for _, v := range md[k] {
			out = append(out, k+": "+v)
		}
	}
	return strings.Join(out, "|")
}

// An interrupt ends a batch waiting for input that never comes: stdin is a
// pipe its writer keeps open.
func TestRunInterruptedWhileWaitingForInput(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	ctx, cancel := context.WithCancel(context.Background())
	reading := make(chan struct{})
	in := readFunc(func(b []byte) (int, error) {
		select {
		case <-reading:
		default:
			close(reading)
		}
		return pr.Read(b)
	})
	ran := make(chan error, 1)
	go func() {
		_, err := Run(ctx, in, io.Discard, Options{
			Open:     func(context.Context, bool) (Conn, error) { return nil, errors.New("not reached") },
			Classify: func(error) (int, string) { return 1, "" },
		})
		ran <- err
	}()
	select {
	case <-reading:
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not read its input within 30s")
	}
	cancel()
	select {
	case err := <-ran:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Run: %v, want context.Canceled", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return within 30s of its context's cancellation while its input stayed open")
	}
}

type readFunc func([]byte) (int, error)

func (f readFunc) Read(b []byte) (int, error) { return f(b) }
