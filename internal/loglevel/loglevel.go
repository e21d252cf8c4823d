// Package loglevel reads the level of a log line as hclog (go-plugin's
// logger) writes it, and filters a stream of lines by level: what
// `plugctl logs --level` does to a started plugin's log.
package loglevel

import (
	"bytes"
	"encoding/json"
	"io"
	"regexp"
	"sync"

	"github.com/hashicorp/go-hclog"
)

// textLevel matches the level of a line in hclog's text format, after an
// optional timestamp: "2026-01-02T15:04:05.000Z [WARN]  name: message", or
// "[DEBUG] message" (also how Go plugins written with the log package mark
// levels, which go-plugin reads the same way). Compiled on first use: every
// plugctl command links this package, only logs needs it.
var textLevel = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(?:\d{4}-\d\d-\d\dT\S+ )?\[(TRACE|DEBUG|INFO|WARN|ERROR)\]`)
})

// Of returns the level of an hclog line: a JSON object with an "@level"
// (hclog's JSON format, what go-plugin's plugins write on stderr), or a
// text line with [LEVEL] at its start. ok is false for any other line.
func Of(line []byte) (level hclog.Level, ok bool) {
	line = bytes.TrimSpace(line)
	if len(line) > 0 && line[0] == '{' {
		var entry struct {
			Level string `json:"@level"`
		}
		if json.Unmarshal(line, &entry) != nil || entry.Level == "" {
			return hclog.NoLevel, false
		}
		l := hclog.LevelFromString(entry.Level)
		return l, l != hclog.NoLevel
	}
	if m := textLevel().FindSubmatch(line); m != nil {
		return hclog.LevelFromString(string(m[1])), true
	}
	return hclog.NoLevel, false
}

// Filter copies complete lines to w, leaving out hclog lines below min;
// lines that are not hclog lines are kept. Close writes a last line that
// has no newline.
type Filter struct {
	w   io.Writer
	min hclog.Level
	buf []byte
}

// NewFilter returns a Filter writing to w.
func NewFilter(w io.Writer, min hclog.Level) *Filter { return &Filter{w: w, min: min} }

// maxLine bounds a line kept waiting for its newline.
const maxLine = 1 << 20

func (f *Filter) Write(b []byte) (int, error) {
	f.buf = append(f.buf, b...)
	for {
		i := bytes.IndexByte(f.buf, '\n')
		if i < 0 {
			break
		}
		if err := f.line(f.buf[:i+1]); err != nil {
			return len(b), err
		}
		f.buf = f.buf[i+1:]
	}
	if len(f.buf) > maxLine {
		err := f.line(f.buf)
		f.buf = f.buf[:0]
		return len(b), err
	}
	return len(b), nil
}

func (f *Filter) line(l []byte) error {
	if lv, ok := Of(l); ok && lv < f.min {
		return nil
	}
	_, err := f.w.Write(l)
	return err
}

// Close writes what is left of a last line without a newline.
func (f *Filter) Close() error {
	if len(f.buf) == 0 {
		return nil
	}
	err := f.line(f.buf)
	f.buf = nil
	return err
}
