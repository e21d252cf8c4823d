// Command rogue is a misbehaving plugin for plugctl's tests. Its behaviour
// is chosen at build time:
//
//	go build -ldflags "-X main.mode=hang" -o rogue-hang ./testdata/plugins/rogue
//
// Modes:
//
//	serve        (default) a well-behaved SDK plugin: the methods below
//	hang         never handshakes: sleeps forever
//	garbage      prints "this is not a handshake" on stdout, then serves: the
//	             host fails with "Unrecognized remote plugin message"
//	exit         prints "rogue: exiting with status 3" on stderr, exits 3
//	wrongcookie  serves with MagicCookieValue "not-plugctl": against
//	             plugctl's default handshake it prints go-plugin's notice and exits 1
//	panic        serves; its Boom method panics with "kaboom" (the process
//	             dies, stderr has "panic: kaboom")
//	noisy        prints a line on stderr at start; its Noise method prints lines
//	             on stdout and stderr before and during the call and returns "ok"
//	grandchild   starts `sleep 300` with its own stdout and stderr (so the
//	             pipes stay open after rogue dies), then serves
//	hijack       prints a handshake naming the address in $PLUGCTL_TEST_HIJACK
//	             (or $LC_PLUGCTL_TEST_HIJACK), "unix|PATH" or "tcp|HOST:PORT":
//	             another process's, not one it listens on; then sleeps
//	marker       creates the file named by $PLUGCTL_TEST_MARKER, or else by
//	             $LC_PLUGCTL_TEST_MARKER (which plugins get without --env),
//	             when set, at start, then serves: proves that a binary ran
//
// Every serving mode uses plugctl's default handshake except wrongcookie,
// plugin map name "rogue", service plugctl.sdk.rogue.Rogue with methods
// Ping() "pong", Mode() the mode, Boom() (panics in every mode), Noise() "ok"
// (printing only in noisy mode), Env(name) the variable's value or "<unset>".
package main

import (
	"fmt"
	"os"
	"os/exec"
	"time"

	"github.com/hashicorp/go-plugin"
	"github.com/plugctl/plugctl/sdk"
)

// mode is set with -ldflags "-X main.mode=…".
var mode = "serve"

type rogue struct{}

// Ping answers "pong".
func (rogue) Ping() string { return "pong" }

// Mode reports the mode the binary was built with.
func (rogue) Mode() string { return mode }

// Boom panics mid-call.
func (rogue) Boom() string {
	fmt.Fprintln(os.Stderr, "rogue: about to panic")
	panic("kaboom")
}

// Env returns the value of the environment variable name as the plugin
// sees it, or "<unset>": what a host lets through to its plugins.
func (rogue) Env(name string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return "<unset>"
}

// Noise prints before and during the call (in noisy mode) and returns "ok".
func (rogue) Noise() string {
	if mode == "noisy" {
		for i := 1; i <= 3; i++ {
			fmt.Fprintf(os.Stdout, "rogue: stdout line %d\n", i)
			fmt.Fprintf(os.Stderr, "rogue: stderr line %d\n", i)
			time.Sleep(10 * time.Millisecond)
		}
	}
	return "ok"
}

func main() {
	cfg := sdk.ServeConfig{Name: "rogue"}
	switch mode {
	case "serve", "panic":
	case "hang":
		for {
			time.Sleep(time.Hour)
		}
	case "garbage":
		fmt.Println("this is not a handshake")
	case "exit":
		fmt.Fprintln(os.Stderr, "rogue: exiting with status 3")
		os.Exit(3)
	case "wrongcookie":
		cfg.Handshake = plugin.HandshakeConfig{MagicCookieValue: "not-plugctl"}
	case "noisy":
		fmt.Fprintln(os.Stderr, "rogue: starting noisily")
	case "grandchild":
		cmd := exec.Command("sleep", "300")
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Start(); err != nil {
			fmt.Fprintln(os.Stderr, "rogue:", err)
			os.Exit(1)
		}
		fmt.Fprintf(os.Stderr, "rogue: started grandchild %d\n", cmd.Process.Pid)
	case "hijack":
		addr := os.Getenv("PLUGCTL_TEST_HIJACK")
		if addr == "" {
			addr = os.Getenv("LC_PLUGCTL_TEST_HIJACK")
		}
		fmt.Printf("1|1|%s|grpc\n", addr)
		for {
			time.Sleep(time.Hour)
		}
	case "marker":
		path := os.Getenv("PLUGCTL_TEST_MARKER")
		if path == "" {
			// LC_* reaches a plugin without --env (runtime.CleanEnv).
			path = os.Getenv("LC_PLUGCTL_TEST_MARKER")
		}
		if path != "" {
			if err := os.WriteFile(path, []byte(fmt.Sprintf("%d\n", os.Getpid())), 0o644); err != nil {
				fmt.Fprintln(os.Stderr, "rogue:", err)
				os.Exit(1)
			}
		}
	default:
		fmt.Fprintf(os.Stderr, "rogue: unknown mode %q\n", mode)
		os.Exit(2)
	}
	cfg.Serve(rogue{})
}
