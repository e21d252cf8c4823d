//go:build unix

package keepwire

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"syscall"
	"testing"
	"time"
)

// serveOnce listens on a socket, reads one request and answers with
// replies (raw lines), then waits for the caller to hang up.
func serveOnce(t *testing.T, replies ...string) (string, <-chan Request) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "k.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	got := make(chan Request, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		line, err := br.ReadBytes('\n')
		if err != nil {
			return
		}
		var req Request
		_ = json.Unmarshal(line, &req)
		got <- req
		for _, r := range replies {
			if _, err := io.WriteString(c, r+"\n"); err != nil {
				return
			}
		}
		_, _ = br.ReadByte() // until the caller hangs up
	}()
	return sock, got
}

func call(t *testing.T, ctx context.Context, sock string, req Request) ([]string, error) {
	t.Helper()
	c, err := Dial(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var docs []string
	err = Call(ctx, c, req, func(doc []byte) error { docs = append(docs, string(doc)); return nil })
	return docs, err
}

func TestCall(t *testing.T) {
	ctx := context.Background()
	t.Run("documents then end", func(t *testing.T) {
		sock, got := serveOnce(t, `{"doc":{"i":1}}`, `{"doc":{"i":2}}`, `{"end":true}`)
		raw := json.RawMessage(`{"n":2}`)
		dctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		docs, err := call(t, dctx, sock, Request{Target: "kv@1.0.0", Method: "Count", Args: &raw})
		if err != nil || !reflect.DeepEqual(docs, []string{`{"i":1}`, `{"i":2}`}) {
			t.Fatalf("docs %q, err %v", docs, err)
		}
		req := <-got
		if req.Target != "kv@1.0.0" || req.Method != "Count" || string(*req.Args) != `{"n":2}` || req.Deadline == 0 {
			t.Errorf("request %+v: want the target, method, args and the context's deadline", req)
		}
	})
	t.Run("declined", func(t *testing.T) {
		sock, _ := serveOnce(t, `{"declined":"the plugin has exited"}`)
		_, err := call(t, ctx, sock, Request{Method: "Get"})
		var d *DeclinedError
		if !errors.As(err, &d) || d.Reason != "the plugin has exited" {
			t.Errorf("err %v, want a *DeclinedError", err)
		}
	})
	t.Run("declined after a document is not declined", func(t *testing.T) {
		sock, _ := serveOnce(t, `{"doc":1}`, `{"declined":"late"}`)
		_, err := call(t, ctx, sock, Request{Method: "Get"})
		var d *DeclinedError
		var lost *LostError
		if errors.As(err, &d) || !errors.As(err, &lost) {
			t.Errorf("err %v, want a *LostError (the call ran)", err)
		}
	})
	t.Run("error", func(t *testing.T) {
		sock, _ := serveOnce(t, `{"error":{"kind":"method","message":"boom","code":5}}`)
		_, err := call(t, ctx, sock, Request{Method: "Get"})
		var ke *Error
		if !errors.As(err, &ke) || ke.Kind != "method" || ke.Code != 5 || err.Error() != "boom" {
			t.Errorf("err %v, want the keeper's *Error", err)
		}
	})
	t.Run("lost", func(t *testing.T) {
		// The keeper dies mid-call: its socket closes after one document.
		sock := filepath.Join(t.TempDir(), "k.sock")
		l, err := net.Listen("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		go func() {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_, _ = bufio.NewReader(c).ReadBytes('\n')
			_, _ = io.WriteString(c, `{"doc":1}`+"\n")
			c.Close()
		}()
		docs, err := call(t, ctx, sock, Request{Method: "Get"})
		var lost *LostError
		if len(docs) != 1 || !errors.As(err, &lost) || !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("docs %q, err %v; want one document and a *LostError wrapping io.ErrUnexpectedEOF", docs, err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		sock, _ := serveOnce(t) // answers nothing
		cctx, cancel := context.WithCancel(ctx)
		time.AfterFunc(50*time.Millisecond, cancel)
		_, err := call(t, cctx, sock, Request{Method: "Sleep"})
		var lost *LostError
		if !errors.As(err, &lost) || !errors.Is(err, context.Canceled) {
			t.Errorf("err %v, want a *LostError wrapping context.Canceled", err)
		}
	})
	t.Run("no keeper", func(t *testing.T) {
		if _, err := Dial(filepath.Join(t.TempDir(), "none.sock")); err == nil {
			t.Error("Dial of a missing socket succeeded")
		}
	})
}

// A keeper that stopped accepting (stopped, or its backlog full) must not
// make Dial block: callers that only ask whether a keeper answers (ps,
// start) give it no timeout.
func TestDialDoesNotBlock(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "k.sock")
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrUnix{Name: sock}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil { // never accepts
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		var err error
		for i := 0; i < 64 && err == nil; i++ { // fill the backlog
			var c *os.File
			if c, err = Dial(sock); err == nil {
				defer c.Close()
			}
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("64 connections to a listener that never accepts all succeeded")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Dial blocked on a keeper that does not accept")
	}
}
