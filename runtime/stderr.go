package runtime

import (
	"bytes"
	"io"
	"strings"
	"sync"
)

// prefixWriter writes each complete line to w with prefix in front of it;
// go-plugin forwards a plugin's logs and stdio through it at -v.
type prefixWriter struct {
	mu     sync.Mutex
	w      io.Writer
	prefix string
	buf    []byte
}

func newPrefixWriter(w io.Writer, prefix string) *prefixWriter {
	return &prefixWriter{w: w, prefix: prefix}
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			break
		}
		line := make([]byte, 0, len(p.prefix)+i+1)
		line = append(line, p.prefix...)
		line = append(line, p.buf[:i+1]...)
		p.buf = p.buf[i+1:]
		if _, err := p.w.Write(line); err != nil {
			return len(b), nil // losing a log line must not fail the plugin's stdio
		}
	}
	// A plugin that never ends its line cannot grow this without bound.
	if len(p.buf) > 64<<10 {
		_, _ = p.w.Write(append([]byte(p.prefix), append(p.buf, '\n')...))
		p.buf = p.buf[:0]
	}
	return len(b), nil
}

const (
	cookieNotice = "This binary is a plugin. These are not meant to be executed directly."
	tailLines    = 8
	maxLineKept  = 512
)

// stderrWatch receives the plugin's raw stderr lines (go-plugin's
// ClientConfig.Stderr) whatever the verbosity, and keeps what an error
// message needs: the first panic line, whether the plugin complained about
// its magic cookie, and the last few lines.
type stderrWatch struct {
	mu      sync.Mutex
	partial []byte
	panic   string
	cookie  bool
	tail    []string
}

func (s *stderrWatch) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.partial = append(s.partial, b...)
	for {
		i := bytes.IndexByte(s.partial, '\n')
		if i < 0 {
			break
		}
		s.line(string(s.partial[:i]))
		s.partial = s.partial[i+1:]
	}
	if len(s.partial) > 64<<10 {
		s.line(string(s.partial))
		s.partial = s.partial[:0]
	}
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
	if strings.TrimSpace(l) == "" {
		return
	}
	if len(s.tail) == tailLines {
		copy(s.tail, s.tail[1:])
		s.tail = s.tail[:tailLines-1]
	}
	s.tail = append(s.tail, truncate(l))
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

// lastLine returns the last non-empty stderr line that is not part of a
// goroutine dump, for "exited before the handshake" messages.
func (s *stderrWatch) lastLine() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.tail) == 0 {
		return ""
	}
	return s.tail[len(s.tail)-1]
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
