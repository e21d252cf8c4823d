package runtime

import (
	"bytes"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"
)

// logWriter logs each complete line written to it at Info: go-plugin hands
// a plugin's synced stdout and stderr to it.
type logWriter struct {
	mu  sync.Mutex
	l   hclog.Logger
	buf []byte
}

func (w *logWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.l.IsInfo() {
		return len(b), nil
	}
	eachLine(&w.buf, b, func(l []byte) {
		if l = bytes.TrimRight(l, "\r"); len(l) > 0 {
			w.l.Info(string(l))
		}
	})
	return len(b), nil
}

// maxPartial bounds a line kept waiting for its newline: a plugin that never
// ends its line cannot grow a buffer without bound.
const maxPartial = 64 << 10

// eachLine appends b to *buf and hands each complete line, without its
// newline, to line; a partial line longer than maxPartial is handed over as
// is. line must not keep the slice.
func eachLine(buf *[]byte, b []byte, line func([]byte)) {
	*buf = append(*buf, b...)
	for {
		i := bytes.IndexByte(*buf, '\n')
		if i < 0 {
			break
		}
		line((*buf)[:i])
		*buf = (*buf)[i+1:]
	}
	if len(*buf) > maxPartial {
		line(*buf)
		*buf = (*buf)[:0]
	}
}

const (
	cookieNotice = "This binary is a plugin. These are not meant to be executed directly."
	maxLineKept  = 512
)

// stderrWatch receives the plugin's raw stderr lines (go-plugin's
// ClientConfig.Stderr) whatever the verbosity, and keeps what an error
// message needs: the first panic line, whether the plugin complained about
// its magic cookie, and its last non-empty line.
type stderrWatch struct {
	mu      sync.Mutex
	partial []byte
	panic   string
	cookie  bool
	last    string
}

func (s *stderrWatch) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	eachLine(&s.partial, b, func(l []byte) { s.line(string(l)) })
	return len(b), nil
}

func (s *stderrWatch) line(l string) {
	l = strings.TrimRight(l, "\r")
	if s.panic == "" && (strings.HasPrefix(l, "panic: ") || strings.HasPrefix(l, "fatal error: ")) {
		s.panic = truncate(l)
	}
	if strings.HasPrefix(l, cookieNotice) {
		s.cookie = true
	}
	if strings.TrimSpace(l) != "" {
		s.last = truncate(l)
	}
}

func truncate(l string) string {
	if len(l) > maxLineKept {
		return l[:maxLineKept] + "…"
	}
	return l
}

func (s *stderrWatch) panicLine() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.panic
}

func (s *stderrWatch) sawCookieNotice() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cookie
}

// lastLine returns the last non-empty stderr line, for "exited before the
// handshake" messages.
func (s *stderrWatch) lastLine() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// detail is ": " and the last line the plugin printed on stderr, for a
// message saying that it exited; empty when it panicked (the panic line is
// reported on its own) or printed nothing.
func (s *stderrWatch) detail() string {
	if s.panicLine() != "" {
		return ""
	}
	if l := s.lastLine(); l != "" {
		return ": " + logMessage(l)
	}
	return ""
}

// readLog feeds the watch the end of a started plugin's stderr file (its
// LogFile), where there is no pipe to watch.
func (s *stderrWatch) readLog(path string) {
	if b, err := readTail(path, 64<<10); err == nil {
		_, _ = s.Write(b)
		_, _ = s.Write([]byte("\n"))
	}
}
