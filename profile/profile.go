// Package profile holds the handshakes of the large plugin ecosystems built
// on go-plugin (Terraform providers, Grafana backend plugins, Vault plugins,
// Nomad task drivers), so that installing one of their plugins needs a
// profile name instead of a magic cookie typed by hand.
//
// Every value below was read in the ecosystem's own SDK source; the comment
// beside each names the module version and file it came from. They are the
// plugin side's constants, which its host must echo, so they do not change
// between SDK releases (the SDKs say "should NEVER be changed").
package profile

import (
	"fmt"
	"slices"
	"strings"

	"github.com/plugctl/plugctl/store"
)

// Profile is one ecosystem's host-side settings.
type Profile struct {
	Name        string         `json:"name"`
	Description string         `json:"description"`
	Protocol    store.Protocol `json:"protocol"`
	// Sources names the SDK files the values were read in.
	Sources []string `json:"sources"`
}

// Names of the profiles whose calls behave differently (runtime reads
// them): Terraform's diagnostics make a call fail, Grafana's requests get
// what Grafana always sends.
const (
	Terraform = "terraform"
	Grafana   = "grafana"
	Vault     = "vault"
	Nomad     = "nomad"
)

var profiles = [...]Profile{
	{
		Name:        Terraform,
		Description: "Terraform providers (terraform-plugin-go, terraform-plugin-framework, terraform-plugin-sdk), protocol 5 or 6",
		Protocol: store.Protocol{
			Kind: store.KindGRPC,
			// tf5server.protocolVersionMajor = 5, tf6server.protocolVersionMajor = 6.
			Versions: store.ProtocolVersions{5, 6},
			// tf5server/server.go and tf6server/server.go, HandshakeConfig.
			CookieKey:   "TF_PLUGIN_MAGIC_COOKIE",
			CookieValue: "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2",
			// The plugin set's one entry: "provider": &GRPCProviderPlugin{}.
			Dispense: "provider",
			// The servers call go-plugin's Serve, which answers the
			// host's client certificate (AutoMTLS), as Terraform CLI
			// launches providers.
			MTLS:   store.MTLSTrue,
			Decode: true,
		},
		Sources: []string{
			"github.com/hashicorp/terraform-plugin-go@v0.31.0/tfprotov5/tf5server/server.go",
			"github.com/hashicorp/terraform-plugin-go@v0.31.0/tfprotov6/tf6server/server.go",
		},
	},
	{
		Name:        Grafana,
		Description: "Grafana backend plugins (grafana-plugin-sdk-go): data sources and apps",
		Protocol: store.Protocol{
			Kind: store.KindGRPC,
			// grpcplugin.ProtocolVersion, MagicCookieKey, MagicCookieValue.
			Versions:    store.ProtocolVersions{2},
			CookieKey:   "grafana_plugin_type",
			CookieValue: "datasource",
			// Serve's plugin set: "diagnostics", "resource", "data",
			// "stream"; every data source has "data".
			Dispense: "data",
			Decode:   true,
		},
		Sources: []string{
			"github.com/grafana/grafana-plugin-sdk-go@v0.300.0/backend/grpcplugin/handshake.go",
			"github.com/grafana/grafana-plugin-sdk-go@v0.300.0/backend/grpcplugin/serve.go",
		},
	},
	{
		Name:        Vault,
		Description: "Vault secrets and auth plugins (vault/sdk plugin.Serve, ServeMultiplex)",
		Protocol: store.Protocol{
			Kind: store.KindGRPC,
			// Serve's VersionedPlugins: 3, 4 and 5 (5: AutoMTLS and
			// multiplexing).
			Versions:    store.ProtocolVersions{3, 4, 5},
			CookieKey:   "VAULT_BACKEND_PLUGIN",
			CookieValue: "6669da05-b1c8-4f49-97d9-c8e5bed98e20",
			Dispense:    "backend",
			// plugin_v5.go: the host's client config has AutoMTLS: true,
			// and run_config.go tells the plugin so in its environment.
			MTLS: store.MTLSTrue,
			Env:  []string{"VAULT_PLUGIN_AUTOMTLS_ENABLED=true"},
			// pluginutil.MultiplexingCtxKey: a multiplexed backend
			// (ServeMultiplex) refuses a call without one; others ignore
			// it.
			Metadata: []string{"multiplex_id: plugctl"},
		},
		Sources: []string{
			"github.com/hashicorp/vault/sdk@v0.25.1/plugin/serve.go",
			"github.com/hashicorp/vault/sdk@v0.25.1/plugin/plugin_v5.go",
			"github.com/hashicorp/vault/sdk@v0.25.1/helper/pluginutil/env.go",
			"github.com/hashicorp/vault/sdk@v0.25.1/helper/pluginutil/run_config.go",
			"github.com/hashicorp/vault/sdk@v0.25.1/helper/pluginutil/runner.go",
		},
	},
	{
		Name:        Nomad,
		Description: "Nomad task driver and device plugins (plugins/base)",
		Protocol: store.Protocol{
			Kind: store.KindGRPC,
			// base.Handshake: "Version 2: 0.9+ grpc based executor".
			Versions:    store.ProtocolVersions{2},
			CookieKey:   "NOMAD_PLUGIN_MAGIC_COOKIE",
			CookieValue: "e4327c2e01eabfd75a8a67adb114fb34a757d57eee7728d857a8cec6e91a7255",
			// base.PluginTypeBase: every Nomad plugin serves "base".
			Dispense: "base",
		},
		Sources: []string{"github.com/hashicorp/nomad plugins/base/plugin.go (MPL-2.0 releases)"},
	},
}

// All returns every profile, by name. The slice is the caller's own.
func All() []Profile {
	out := make([]Profile, len(profiles))
	for i, p := range profiles {
		out[i] = p.clone()
	}
	return out
}

// Names returns the profiles' names.
func Names() []string {
	var out []string
	for _, p := range profiles {
		out = append(out, p.Name)
	}
	return out
}

// Lookup returns the profile called name.
func Lookup(name string) (Profile, bool) {
	for _, p := range profiles {
		if p.Name == name {
			return p.clone(), true
		}
	}
	return Profile{}, false
}

func (p Profile) clone() Profile {
	p.Protocol.Versions = slices.Clone(p.Protocol.Versions)
	p.Protocol.Env = slices.Clone(p.Protocol.Env)
	p.Protocol.Metadata = slices.Clone(p.Protocol.Metadata)
	p.Sources = slices.Clone(p.Sources)
	return p
}

// UnknownError says that a protocol names no profile plugctl knows.
type UnknownError struct{ Name string }

func (e *UnknownError) Error() string {
	return fmt.Sprintf("profile %q: want one of %s", e.Name, strings.Join(Names(), ", "))
}

// Resolve returns p with its profile's values filled in wherever p sets
// none: a field set explicitly (an install flag, the index) wins; Env and
// Metadata entries are the profile's, then p's, one per name or key, p's
// replacing the profile's. A protocol without a profile is returned as is.
// Resolving twice changes nothing.
func Resolve(p store.Protocol) (store.Protocol, error) {
	if p.Profile == "" {
		return p, nil
	}
	prof, ok := Lookup(p.Profile)
	if !ok {
		return p, &UnknownError{Name: p.Profile}
	}
	d := prof.Protocol
	if p.Kind == "" {
		p.Kind = d.Kind
	}
	if len(p.Versions) == 0 {
		p.Versions = d.Versions
	}
	if p.CookieKey == "" {
		p.CookieKey = d.CookieKey
	}
	if p.CookieValue == "" {
		p.CookieValue = d.CookieValue
	}
	if p.Dispense == "" {
		p.Dispense = d.Dispense
	}
	if p.MTLS == "" {
		p.MTLS = d.MTLS
	}
	if d.Decode {
		p.Decode = true
	}
	p.Env = MergeEnv(d.Env, p.Env)
	p.Metadata = MergeMetadata(d.Metadata, p.Metadata)
	return p, nil
}

// MergeEnv returns base's NAME=VALUE entries whose name over does not set,
// then over's.
func MergeEnv(base, over []string) []string {
	return mergeBy(base, over, func(s string) string { k, _, _ := strings.Cut(s, "="); return k })
}

// MergeMetadata returns base's "key: value" entries whose key (any case)
// over does not set, then over's: a call's own metadata replaces a
// profile's default.
func MergeMetadata(base, over []string) []string {
	return mergeBy(base, over, func(s string) string {
		k, _, _ := strings.Cut(s, ":")
		return strings.ToLower(strings.TrimSpace(k))
	})
}

// mergeBy returns base's entries whose key over does not hold, then over's.
func mergeBy(base, over []string, key func(string) string) []string {
	var out []string
	for _, b := range base {
		if !slices.ContainsFunc(over, func(o string) bool { return key(o) == key(b) }) {
			out = append(out, b)
		}
	}
	return append(out, over...)
}
