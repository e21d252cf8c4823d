package runtime

import (
	"regexp"
	"strings"
	"sync"
)

// go-plugin's Client.Start returns plain errors (errors.New, fmt.Errorf with
// %s), with no types or sentinels to test for, so its message is all there
// is to tell why a start failed. This file is the only place in plugctl
// that reads go-plugin's error text; each string it knows has a test that
// produces the real error (gopluginerr_test.go), so a go-plugin upgrade that
// rewords one fails there rather than silently changing what users see.

// goPluginStartKind is what a go-plugin start error says went wrong.
type goPluginStartKind int

const (
	gpOther        goPluginStartKind = iota
	gpTimeout                        // its StartTimeout passed before a handshake line
	gpExited                         // the process ended before a handshake line
	gpUnrecognized                   // the first stdout line is not a handshake
	gpIncompatible                   // the plugin's app protocol version is not ours
	gpUnsupported                    // the plugin speaks a protocol (grpc, netrpc) we did not allow
	gpBadCert                        // the handshake's mTLS certificate does not parse
)

// goPluginStart is a go-plugin start error read: its kind and the parts of
// the message that name what the plugin sent.
type goPluginStart struct {
	kind     goPluginStartKind
	line     string // gpUnrecognized: the plugin's first stdout line
	version  string // gpIncompatible: the plugin's protocol version, if given
	protocol string // gpUnsupported: the protocol the plugin named, if given
}

// goPluginPatterns are compiled on first use: only a failed start needs
// them, and every plugctl command would pay for them at package init.
var goPluginPatterns = sync.OnceValue(func() *goPluginErrorPatterns {
	return &goPluginErrorPatterns{
		incompatible: regexp.MustCompile(`Plugin version: (\d+)`),
		unrecognized: regexp.MustCompile(`(?s)^Unrecognized remote plugin message: ([^\n]*)`),
		unsupported:  regexp.MustCompile(`unsupported plugin protocol "([^"]*)"`),
	}
})

type goPluginErrorPatterns struct{ incompatible, unrecognized, unsupported *regexp.Regexp }

// readGoPluginStart classifies the message of an error from go-plugin's
// Client.Start. The unrecognized-line case is tested first and anchored: its
// message quotes the plugin's own output, which may hold any of the other
// phrases.
func readGoPluginStart(msg string) goPluginStart {
	re := goPluginPatterns()
	if m := re.unrecognized.FindStringSubmatch(msg); m != nil {
		return goPluginStart{kind: gpUnrecognized, line: m[1]}
	}
	switch {
	case strings.Contains(msg, "timeout while waiting for plugin to start"):
		return goPluginStart{kind: gpTimeout}
	case strings.Contains(msg, "incompatible API version"):
		g := goPluginStart{kind: gpIncompatible}
		if m := re.incompatible.FindStringSubmatch(msg); m != nil {
			g.version = m[1]
		}
		return g
	case strings.Contains(msg, "unsupported plugin protocol"):
		g := goPluginStart{kind: gpUnsupported}
		if m := re.unsupported.FindStringSubmatch(msg); m != nil {
			g.protocol = m[1]
		}
		return g
	case strings.Contains(msg, "error parsing server cert"):
		return goPluginStart{kind: gpBadCert}
	case strings.Contains(msg, "plugin exited before we could connect"):
		return goPluginStart{kind: gpExited}
	}
	return goPluginStart{}
}
