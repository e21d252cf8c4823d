package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/plugctl/plugctl/internal/handshake"
)

// Protocol says how go-plugin launches a plugin: the handshake it expects and
// the transport. Every field is optional in an index; WithDefaults fills them.
type Protocol struct {
	Kind        string           `json:"kind,omitempty"` // auto | grpc | netrpc
	Versions    ProtocolVersions `json:"version,omitempty"`
	CookieKey   string           `json:"cookieKey,omitempty"`
	CookieValue string           `json:"cookieValue,omitempty"`
	Dispense    string           `json:"dispense,omitempty"`
	Schema      *Schema          `json:"schema,omitempty"`
	MTLS        MTLSMode         `json:"mtls,omitempty"`
	// Profile names the plugin ecosystem (terraform, grafana, vault,
	// nomad) whose host the plugin expects; the fields above, Env,
	// Metadata and Decode hold its values once resolved, under any set
	// explicitly.
	Profile string `json:"profile,omitempty"`
	// Env is NAME=VALUE pairs set in the plugin's environment, as the
	// ecosystem's host sets them.
	Env []string `json:"env,omitempty"`
	// Metadata is gRPC metadata ("key: value") sent with every call
	// unless the call sets that key itself.
	Metadata []string `json:"metadata,omitempty"`
	// Decode makes calls print readable bytes by default (--decode).
	Decode bool `json:"decode,omitempty"`
}

// Schema is a gRPC schema (a FileDescriptorSet, "protoset") for a plugin
// without server reflection. In an index URL is relative to the index; in a
// receipt Path names the verified copy inside the version directory.
type Schema struct {
	URL    string `json:"url,omitempty"`
	SHA256 string `json:"sha256"`
	Path   string `json:"path,omitempty"`
}

// Protocol kinds.
const (
	KindAuto   = "auto"
	KindGRPC   = "grpc"
	KindNetRPC = "netrpc"
)

// WithDefaults returns p with every unset field set to its default for a
// plugin called name (docs/index-format.md lists them).
func (p Protocol) WithDefaults(name string) Protocol {
	if p.Kind == "" {
		p.Kind = KindAuto
	}
	if len(p.Versions) == 0 {
		p.Versions = ProtocolVersions{handshake.DefaultProtocolVersion}
	}
	if p.CookieKey == "" {
		p.CookieKey = handshake.DefaultCookieKey
	}
	if p.CookieValue == "" {
		p.CookieValue = handshake.DefaultCookieValue
	}
	if p.Dispense == "" {
		p.Dispense = name
	}
	if p.MTLS == "" {
		p.MTLS = MTLSAuto
	}
	return p
}

// ProtocolChange is one handshake setting that differs between two
// protocols, named by its index field.
type ProtocolChange struct{ Field, Was, Now string }

// Changes lists the handshake settings of now that differ from p, in a
// fixed order: kind, version, cookieKey, cookieValue, dispense, mtls. It is
// the one list of what makes two protocols different to a plugin; compare
// both WithDefaults so an unset field equals its default.
func (p Protocol) Changes(now Protocol) []ProtocolChange {
	var c []ProtocolChange
	add := func(field, was, now string) {
		if was != now {
			c = append(c, ProtocolChange{field, was, now})
		}
	}
	add("kind", p.Kind, now.Kind)
	add("version", p.Versions.String(), now.Versions.String())
	add("cookieKey", p.CookieKey, now.CookieKey)
	add("cookieValue", p.CookieValue, now.CookieValue)
	add("dispense", p.Dispense, now.Dispense)
	add("mtls", string(p.MTLS), string(now.MTLS))
	return c
}

// Validate reports the first field that go-plugin could not use.
func (p Protocol) Validate() error {
	switch p.Kind {
	case "", KindAuto, KindGRPC, KindNetRPC:
	default:
		return fmt.Errorf("protocol kind %q: want auto, grpc or netrpc", p.Kind)
	}
	switch p.MTLS {
	case "", MTLSAuto, MTLSTrue, MTLSFalse:
	default:
		return fmt.Errorf("protocol mtls %q: want auto, true or false", p.MTLS)
	}
	for _, v := range p.Versions {
		if v < 1 {
			return fmt.Errorf("protocol version %d: must be 1 or more", v)
		}
	}
	// The cookie is an environment variable of the plugin's, beside
	// go-plugin's own PLUGIN_* ones, which would override it.
	if k := p.CookieKey; strings.ContainsAny(k, "=\x00") || handshake.GoPluginVar(k) {
		return fmt.Errorf("protocol cookieKey %q: want an environment variable name without '=' and not starting with PLUGIN_ (go-plugin's own)", k)
	}
	if strings.ContainsRune(p.CookieValue, 0) {
		return fmt.Errorf("protocol cookieValue: contains a NUL byte")
	}
	for _, e := range p.Env {
		k, _, ok := strings.Cut(e, "=")
		if !ok || k == "" || strings.ContainsAny(e, "\x00") || handshake.Reserved(k, p.CookieKey) {
			return fmt.Errorf("protocol env %q: want NAME=VALUE, NAME not the cookie key nor PLUGIN_*", e)
		}
	}
	for _, m := range p.Metadata {
		k, _, ok := strings.Cut(m, ":")
		k = strings.ToLower(strings.TrimSpace(k))
		if !ok || k == "" || strings.HasPrefix(k, "grpc-") || strings.Trim(k, "abcdefghijklmnopqrstuvwxyz0123456789-_.") != "" {
			return fmt.Errorf("protocol metadata %q: want \"key: value\" with a key of [a-z0-9-_.], not grpc-*", m)
		}
	}
	return nil
}

// ProtocolVersions is the handshake ProtocolVersion(s) offered. In an index
// it is a number or a list of numbers.
type ProtocolVersions []int

func (v *ProtocolVersions) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '[' {
		var list []int
		if err := json.Unmarshal(b, &list); err != nil {
			return fmt.Errorf("protocol version: want a number or a list of numbers: %w", err)
		}
		*v = list
		return nil
	}
	var n int
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("protocol version: want a number or a list of numbers: %w", err)
	}
	*v = ProtocolVersions{n}
	return nil
}

func (v ProtocolVersions) MarshalJSON() ([]byte, error) {
	if len(v) == 1 {
		return json.Marshal(v[0])
	}
	return json.Marshal([]int(v))
}

// String renders the versions as the index would: "1" or "2,3".
func (v ProtocolVersions) String() string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

// MTLSMode is auto, true or false; an index may write it as a YAML boolean.
type MTLSMode string

const (
	MTLSAuto  MTLSMode = "auto"
	MTLSTrue  MTLSMode = "true"
	MTLSFalse MTLSMode = "false"
)

func (m *MTLSMode) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	switch v := v.(type) {
	case bool:
		*m = MTLSFalse
		if v {
			*m = MTLSTrue
		}
	case string:
		*m = MTLSMode(v)
	default:
		return fmt.Errorf("protocol mtls: want auto, true or false")
	}
	return nil
}
