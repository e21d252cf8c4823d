package profile

import (
	"errors"
	"slices"
	"testing"

	"github.com/plugctl/plugctl/store"
)

func TestResolve(t *testing.T) {
	p, err := Resolve(store.Protocol{Profile: Vault, MTLS: store.MTLSFalse, Env: []string{"VAULT_PLUGIN_AUTOMTLS_ENABLED=false", "X=1"}, Metadata: []string{"Multiplex_ID: mine"}})
	if err != nil {
		t.Fatal(err)
	}
	if p.CookieKey != "VAULT_BACKEND_PLUGIN" || p.Dispense != "backend" || p.Kind != store.KindGRPC || p.Versions.String() != "3,4,5" {
		t.Errorf("handshake not filled: %+v", p)
	}
	if p.MTLS != store.MTLSFalse {
		t.Errorf("explicit mtls lost: %q", p.MTLS)
	}
	if !slices.Equal(p.Env, []string{"VAULT_PLUGIN_AUTOMTLS_ENABLED=false", "X=1"}) {
		t.Errorf("env = %q: the explicit value must replace the profile's", p.Env)
	}
	if !slices.Equal(p.Metadata, []string{"Multiplex_ID: mine"}) {
		t.Errorf("metadata = %q: the explicit key (any case) must replace the profile's", p.Metadata)
	}
	again, err := Resolve(p)
	if err != nil || !slices.Equal(again.Env, p.Env) || !slices.Equal(again.Metadata, p.Metadata) || again.CookieKey != p.CookieKey {
		t.Errorf("resolving twice changed %+v into %+v (%v)", p, again, err)
	}
	if err := p.Validate(); err != nil {
		t.Errorf("resolved vault profile does not validate: %v", err)
	}

	// One cookie field set: the other still comes from the profile.
	p, _ = Resolve(store.Protocol{Profile: Grafana, CookieValue: "app"})
	if p.CookieKey != "grafana_plugin_type" || p.CookieValue != "app" || !p.Decode {
		t.Errorf("grafana with cookie value: %+v", p)
	}

	// No profile: unchanged.
	in := store.Protocol{Kind: store.KindNetRPC}
	if out, err := Resolve(in); err != nil || out.Kind != in.Kind || out.CookieKey != "" {
		t.Errorf("Resolve without profile = %+v, %v", out, err)
	}

	var ue *UnknownError
	if _, err := Resolve(store.Protocol{Profile: "terraform "}); !errors.As(err, &ue) {
		t.Errorf("unknown profile: err = %v", err)
	}
}

func TestProfilesAreValid(t *testing.T) {
	names := map[string]bool{}
	for _, p := range All() {
		if names[p.Name] {
			t.Errorf("profile %s twice", p.Name)
		}
		names[p.Name] = true
		if len(p.Sources) == 0 {
			t.Errorf("profile %s names no SDK source", p.Name)
		}
		r, err := Resolve(store.Protocol{Profile: p.Name})
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Validate(); err != nil {
			t.Errorf("profile %s: %v", p.Name, err)
		}
		if r.CookieKey == "" || r.CookieValue == "" || len(r.Versions) == 0 || r.Kind != store.KindGRPC {
			t.Errorf("profile %s lacks a handshake: %+v", p.Name, r)
		}
	}
	// All hands out copies.
	a := All()
	a[0].Protocol.Versions[0] = 99
	if All()[0].Protocol.Versions[0] == 99 {
		t.Error("All shares its slices with the table")
	}
}

func TestValidateEnvAndMetadata(t *testing.T) {
	for _, p := range []store.Protocol{
		{Env: []string{"NOVALUE"}},
		{Env: []string{"=x"}},
		{Env: []string{"PLUGIN_PROTOCOL_VERSIONS=9"}},
		{CookieKey: "K", Env: []string{"K=forged"}},
		{Metadata: []string{"novalue"}},
		{Metadata: []string{"bad key: v"}},
		{Metadata: []string{"grpc-timeout: 1S"}},
	} {
		if err := p.Validate(); err == nil {
			t.Errorf("%+v: no error", p)
		}
	}
	ok := store.Protocol{Env: []string{"A=", "B=1=2"}, Metadata: []string{"Multiplex_ID: x", "k:"}}
	if err := ok.Validate(); err != nil {
		t.Errorf("%+v: %v", ok, err)
	}
}
