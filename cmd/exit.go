package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/plugctl/plugctl/runtime"
	"github.com/plugctl/plugctl/store"
	"github.com/plugctl/plugctl/verify"
)

// Exit codes. They are part of plugctl's interface: scripts branch on them,
// so a code's meaning never changes (docs/scripting.md lists them).
const (
	ExitOK        = 0
	ExitError     = 1
	ExitUsage     = 2
	ExitNotFound  = 3
	ExitIntegrity = 4
	ExitPlugin    = 5
	ExitMethod    = 6
	ExitOutdated  = 7
	// ExitInterrupted is the shell's convention for a command ended by
	// SIGINT (128+2); plugctl uses it for SIGTERM too.
	ExitInterrupted = 130
)

// usageError is a bad flag, argument, name, constraint or JSON argument.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// exitError carries an exit code chosen by a command, with an optional
// message (an empty one prints nothing: the command already reported).
type exitError struct {
	code int
	msg  string
	hint string
}

func (e *exitError) Error() string { return e.msg }

// classify maps an error to its exit code and a hint for the user. It,
// with classifyManage and classifyRuntime, is the only place that knows the
// mapping.
func classify(err error) (code int, hint string) {
	var ee *exitError
	var ue *usageError
	var mm *verify.MismatchError
	var up *verify.UnpinnedError
	switch {
	case errors.As(err, &up):
		return ExitIntegrity, fmt.Sprintf("check what the directory holds; once you trust it, pin it as a whole with its tree hash: install --from … --h1 %s, or h1: %q in the index entry (the lock file records it)", up.TreeHash, up.TreeHash)
	case errors.Is(err, verify.ErrUnpinned):
		return ExitIntegrity, "an index entry for a file needs its sha256 (plugctl publish computes it)"
	case errors.As(err, &ee):
		return ee.code, ee.hint
	case errors.As(err, &ue), errors.Is(err, store.ErrInvalidName), errors.Is(err, store.ErrBadRef):
		return ExitUsage, ""
	case errors.As(err, &mm) && mm.Installed:
		return ExitIntegrity, "an installed file changed after install: plugctl verify shows what; plugctl reinstall NAME@VERSION fetches it again from its recorded source"
	case errors.As(err, &mm):
		return ExitIntegrity, "the bytes are not what the index promised: do not use them; tell the index's publisher, or run plugctl index update if the index changed"
	}
	if code, hint, ok := classifyManage(err); ok {
		return code, hint
	}
	if errors.Is(err, store.ErrBadReceipt) {
		return ExitNotFound, "the store is damaged: run plugctl doctor (it repairs what is safe to repair and says how to fix the rest)"
	}
	if errors.Is(err, store.ErrNotInstalled) {
		return ExitNotFound, "run plugctl list to see what is installed"
	}
	if code, hint, ok := classifyRuntime(err); ok {
		return code, hint
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return ExitError, "raise --timeout"
	}
	return ExitError, ""
}

// nameOnly is NAME of NAME@VERSION.
func nameOnly(s string) string {
	name, _, _ := store.SplitAt(s)
	return name
}

// reportError prints err as one line plus a hint line (text) or one JSON
// object (json) on stderr, and returns the exit code.
func reportError(g *Global, err error) int {
	code, hint := classify(err)
	msg := err.Error()
	if msg == "" {
		return code
	}
	var de *runtime.DiagnosticsError
	isDiag := errors.As(err, &de)
	if g.JSON() {
		e := struct {
			Code        int               `json:"code"`
			Message     string            `json:"message"`
			Hint        string            `json:"hint,omitempty"`
			Diagnostics []json.RawMessage `json:"diagnostics,omitempty"`
		}{Code: code, Message: msg, Hint: hint}
		if isDiag {
			e.Message, e.Diagnostics = de.Summary, de.Diagnostics
		}
		b, _ := json.Marshal(e)
		fmt.Fprintf(g.IO.ErrOut, "%s\n", b)
		return code
	}
	fmt.Fprintf(g.IO.ErrOut, "plugctl: %s\n", msg)
	if isDiag {
		printDiagnostics(g, de)
	}
	if hint != "" {
		fmt.Fprintf(g.IO.ErrOut, "hint: %s\n", hint)
	}
	return code
}

// printDiagnostics writes a result's diagnostics on stderr, one line each:
// severity, summary, detail and the attribute path when given.
func printDiagnostics(g *Global, de *runtime.DiagnosticsError) {
	for _, raw := range de.Diagnostics {
		var d struct {
			Severity  string          `json:"severity"`
			Summary   string          `json:"summary"`
			Detail    string          `json:"detail"`
			Attribute json.RawMessage `json:"attribute"`
		}
		if json.Unmarshal(raw, &d) != nil {
			continue
		}
		line := d.Severity + ": " + d.Summary
		if d.Detail != "" {
			line += ": " + strings.ReplaceAll(d.Detail, "\n", " ")
		}
		if len(d.Attribute) > 0 {
			line += " (attribute " + string(d.Attribute) + ")"
		}
		fmt.Fprintf(g.IO.ErrOut, "  %s\n", line)
	}
}
