//go:build plugctl_lean

package cmd

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// This file makes the plugctl front end (go build -tags plugctl_lean): the
// commands that run plugins, linked without the code that installs them,
// and every other command handed to plugctl-core, the whole CLI, by exec.
// A command's start-up is a visible part of a call: package initialisation
// of go-getter and its decompressors, protocompile, Masterminds/semver and
// the YAML and progress-bar libraries, and the page faults of a binary
// twice the size, cost every run about 2.5 ms (README.md, Performance).

// commands are the commands the front end serves itself.
var commands = runCommands

// EnvCore names the plugctl-core executable the front end hands commands
// to; by default it is plugctl-core in the front end's own directory.
const EnvCore = "PLUGCTL_CORE"

// handOff execs plugctl-core with the same arguments and environment
// unless the front end serves the command: one of its commands, without
// --help (core's help lists every command) or --proto (the .proto compiler
// is core's). It returns only when the exec failed.
func handOff(g *Global, only string, args []string) (int, bool) {
	if only != "" && !needsCore(args) {
		return 0, false
	}
	if jsonOutput(args) {
		// cobra has not parsed the flags: a failure to hand over speaks
		// JSON when -o json was asked for, as plugctl-core would.
		g.Output = "json"
	}
	if os.Getenv(envHandedOff) != "" {
		// A front end handed the command to another front end: PLUGCTL_CORE
		// names the wrong executable; stop rather than loop.
		return reportError(g, fmt.Errorf("plugctl-core handed the command back: %s=%q is not plugctl-core", EnvCore, os.Getenv(EnvCore))), true
	}
	core, err := corePath()
	if err != nil {
		return reportError(g, err), true
	}
	env := append(os.Environ(), envHandedOff+"=1")
	argv0 := "plugctl"
	if len(os.Args) > 0 {
		argv0 = os.Args[0]
	}
	endPrestart(g) // the fast path serves nothing that core runs; nothing must outlive the exec
	err = syscall.Exec(core, append([]string{argv0}, args...), env)
	return reportError(g, fmt.Errorf("run plugctl-core %s: %w", core, err)), true
}

// needsCore reports whether args, those of a command the front end has,
// ask for what only plugctl-core has: help, or a .proto file to compile.
func needsCore(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		if a == "-h" || a == "--help" || a == "--proto" || strings.HasPrefix(a, "--proto=") {
			return true
		}
		if len(a) > 1 && a[0] == '-' && a[1] != '-' && slices.Contains([]byte(a[1:]), 'h') {
			return true
		}
	}
	return false
}

// jsonOutput reports whether args ask for -o json.
func jsonOutput(args []string) bool {
	for i, a := range args {
		switch {
		case a == "--":
			return false
		case a == "-o" || a == "--output":
			if i+1 < len(args) && args[i+1] == "json" {
				return true
			}
		case a == "-ojson" || a == "--output=json" || a == "-o=json":
			return true
		}
	}
	return false
}

// corePath is $PLUGCTL_CORE, else plugctl-core next to this executable
// (symbolic links followed, as git finds its git-* helpers).
func corePath() (string, error) {
	if p := os.Getenv(EnvCore); p != "" {
		return p, nil
	}
	exe, err := os.Executable()
	if err == nil {
		exe, err = filepath.EvalSymlinks(exe)
	}
	if err != nil {
		return "", fmt.Errorf("find plugctl-core: %w", err)
	}
	p := filepath.Join(filepath.Dir(exe), "plugctl-core")
	if _, err := os.Stat(p); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", &exitError{code: ExitError, msg: fmt.Sprintf("this command is served by plugctl-core, which is not in %s", filepath.Dir(exe)),
				hint: "install both executables (make build makes bin/plugctl and bin/plugctl-core), or set " + EnvCore + " to its path"}
		}
		return "", fmt.Errorf("find plugctl-core: %w", err)
	}
	return p, nil
}

// addCompletions: completion is plugctl-core's.
func addCompletions(*Global, *cobra.Command) {}

// classifyManage: the errors of installing and indexes come from
// plugctl-core only.
func classifyManage(error) (int, string, bool) { return 0, "", false }
