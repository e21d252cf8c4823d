package runner

import (
	"bytes"
	"context"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/plugctl/plugctl/runtime"
)

// Logs finds the logs of the versions that ran: none before a start, the
// started version's files (stdout's first) after it, and with no version
// and none running, the active version's.
func TestLogs(t *testing.T) {
	r, _ := newRunner(t)
	if logs, err := Logs(r.Home, "test", ""); err != nil || len(logs) != 0 {
		t.Fatalf("before a start: Logs = %v, %v; want none", logs, err)
	}
	if _, _, err := r.Start(ctxT(t), "test", Flags{}, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	want := []string{runtime.OutFile(r.Home, "test", "1.0.0"), runtime.LogFile(r.Home, "test", "1.0.0")}
	logs, err := Logs(r.Home, "test", "")
	if err != nil || len(logs) != 1 || logs[0].Version != "1.0.0" || !slices.Equal(logs[0].Files, want) {
		t.Fatalf("started: Logs = %+v, %v; want 1.0.0 with %v", logs, err, want)
	}
	if _, err := runtime.Stop(context.Background(), r.Home, "test", "1.0.0"); err != nil {
		t.Fatal(err)
	}
	// Stopped, its log is still there: found through the active version.
	if logs, err := Logs(r.Home, "test", ""); err != nil || len(logs) != 1 || logs[0].Version != "1.0.0" {
		t.Errorf("stopped: Logs = %+v, %v; want the active 1.0.0's", logs, err)
	}
	if logs, err := Logs(r.Home, "test", "9.9.9"); err != nil || len(logs) != 0 {
		t.Errorf("a version never started: Logs = %+v, %v; want none", logs, err)
	}
	if logs, err := Logs(r.Home, "rpc", ""); err != nil || len(logs) != 0 {
		t.Errorf("another plugin, never started: Logs = %+v, %v; want none", logs, err)
	}
}

// logLines is a plugin log with a line at each level, and one that is not
// hclog's.
const logLines = `{"@level":"debug","@message":"dbg"}
{"@level":"warn","@message":"wrn"}
plain line
2026-01-02T15:04:05.000Z [INFO]  keeper: inf
[ERROR] err
`

func writeLog(t *testing.T, body string) string {
	t.Helper()
	f := t.TempDir() + "/x.log"
	if err := os.WriteFile(f, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// CopyLog copies the files in order, leaving out hclog lines below the
// level and keeping every other line, a last one without newline too.
func TestCopyLog(t *testing.T) {
	a, b := writeLog(t, "first\n"), writeLog(t, logLines+"no newline")
	var out bytes.Buffer
	if err := CopyLog(&out, hclog.Warn, a, b); err != nil {
		t.Fatal(err)
	}
	want := "first\n" + `{"@level":"warn","@message":"wrn"}` + "\nplain line\n[ERROR] err\nno newline"
	if out.String() != want {
		t.Errorf("CopyLog = %q, want %q", out.String(), want)
	}
	if err := CopyLog(&out, hclog.Trace, a+".missing"); err == nil {
		t.Error("a missing file: no error")
	}
}

// lockedBuffer is a bytes.Buffer safe for FollowLog's writes and the
// test's reads at once.
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

// FollowLog prints what is there, then what is appended, filtered by
// level, until its context ends.
func TestFollowLog(t *testing.T) {
	f := writeLog(t, logLines)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out lockedBuffer
	done := make(chan error, 1)
	go func() { done <- FollowLog(ctx, &out, hclog.Info, f) }()
	waitFor := func(s string) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !strings.Contains(out.String(), s); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("no %q in %q after 10s", s, out.String())
			}
		}
	}
	waitFor("[ERROR] err\n")
	w, err := os.OpenFile(f, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteString("{\"@level\":\"trace\",\"@message\":\"late trace\"}\n[WARN] appended\n"); err != nil {
		t.Fatal(err)
	}
	w.Close()
	waitFor("[WARN] appended\n")
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("FollowLog after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("FollowLog still runs 10s after its context ended")
	}
	got := out.String()
	want := `{"@level":"warn","@message":"wrn"}` + "\nplain line\n2026-01-02T15:04:05.000Z [INFO]  keeper: inf\n[ERROR] err\n[WARN] appended\n"
	if got != want {
		t.Errorf("FollowLog printed %q, want %q", got, want)
	}
	if err := FollowLog(ctx, &out, hclog.Trace, f+".missing"); err == nil {
		t.Error("a missing file: no error")
	}
}
