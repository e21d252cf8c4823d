package runner

import (
	"context"
	"io"
	"os"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/plugctl/plugctl/internal/loglevel"
	"github.com/plugctl/plugctl/runtime"
	"github.com/plugctl/plugctl/store"
)

// Log is the log of one started (or once started) version: its files that
// exist, its stdout file (run/NAME@VERSION.out) then its stderr file
// (run/NAME@VERSION.log).
type Log struct {
	Version string
	Files   []string
}

// LogFiles returns the log files of name@version that exist, stdout's
// first.
func LogFiles(p store.Paths, name, version string) []string {
	var fs []string
	for _, f := range []string{runtime.OutFile(p, name, version), runtime.LogFile(p, name, version)} {
		if _, err := os.Stat(f); err == nil {
			fs = append(fs, f)
		}
	}
	return fs
}

// Logs returns the logs of name that exist: of version when it is given,
// else of every started version of name, else (none runs) of its active
// version. None is not an error: the plugin was never started.
func Logs(p store.Paths, name, version string) ([]Log, error) {
	var versions []string
	if version != "" {
		versions = []string{version}
	} else {
		running, err := runtime.Started(p)
		if err != nil {
			return nil, err
		}
		for _, s := range running {
			if s.Name == name {
				versions = append(versions, s.Version)
			}
		}
		if len(versions) == 0 {
			if active, _ := p.Active(name); active != "" {
				versions = []string{active}
			}
		}
	}
	var logs []Log
	for _, v := range versions {
		if fs := LogFiles(p, name, v); len(fs) > 0 {
			logs = append(logs, Log{Version: v, Files: fs})
		}
	}
	return logs, nil
}

// CopyLog copies the files at paths to w, one after the other, leaving out
// hclog lines below minLevel (loglevel.Filter).
func CopyLog(w io.Writer, minLevel hclog.Level, paths ...string) error {
	for _, path := range paths {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		lf := loglevel.NewFilter(w, minLevel)
		_, err = io.Copy(lf, f)
		f.Close()
		if err == nil {
			err = lf.Close()
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// followPoll is how often FollowLog looks for more.
const followPoll = 200 * time.Millisecond

// FollowLog copies the files at paths to w, one after the other, and then
// what is appended to each, until ctx ends (which is not an error),
// leaving out hclog lines below minLevel.
func FollowLog(ctx context.Context, w io.Writer, minLevel hclog.Level, paths ...string) error {
	var fs []*os.File
	var ws []io.Writer
	for _, path := range paths {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		fs = append(fs, f)
		ws = append(ws, loglevel.NewFilter(w, minLevel))
	}
	t := time.NewTicker(followPoll)
	defer t.Stop()
	for {
		for i, f := range fs {
			if _, err := io.Copy(ws[i], f); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
