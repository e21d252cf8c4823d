// Package handshake holds what plugctl's hosts and plugins must agree on
// for go-plugin's handshake: plugctl's default magic cookie and protocol
// version, and which environment variables go-plugin sets itself for a
// plugin it launches. store (a receipt's protocol and its defaults),
// runtime (a plugin's environment) and sdk (the plugins written with it)
// take them from here. It imports only the standard library, so that sdk,
// which is compiled into plugins, depends on nothing else of plugctl.
package handshake

import "strings"

// The handshake of a plugin whose index entry names none, and of every
// plugin written with sdk. Published indexes and built plugins rely on
// them, so they never change.
const (
	DefaultCookieKey       = "PLUGCTL_PLUGIN"
	DefaultCookieValue     = "plugctl"
	DefaultProtocolVersion = 1
)

// GoPluginVar reports whether an environment variable called name is one
// of go-plugin's own (PLUGIN_*: the port range, the offered versions, the
// socket directory, the client certificate), which go-plugin sets for
// every plugin and a plugin reads as go-plugin's.
func GoPluginVar(name string) bool { return strings.HasPrefix(name, "PLUGIN_") }

// Reserved reports whether an environment variable called name is set by
// the handshake of a plugin whose magic cookie is cookieKey: the cookie
// itself or one of go-plugin's own. Anything else given for a plugin's
// environment must not set it.
func Reserved(name, cookieKey string) bool { return name == cookieKey || GoPluginVar(name) }
