package index

import (
	"reflect"
	"testing"

	"github.com/plugctl/plugctl/internal/handshake"
	"github.com/plugctl/plugctl/profile"
	"github.com/plugctl/plugctl/store"
)

// Info lists an offer's versions newest first, each version's platforms
// sorted, its artifacts' URLs made absolute against the index's address,
// and the protocol install would record: the profile's, defaults applied.
func TestOfferInfo(t *testing.T) {
	o := Offer{
		Index: store.Source{Name: "main"},
		Meta:  &Meta{Source: "https://example.com/idx/index.yaml"},
		Plugin: Plugin{Description: "A tool", Protocol: store.Protocol{Profile: profile.Nomad}, Versions: map[string]map[string]Artifact{
			"1.0.0":  {"linux/amd64": {URL: "a/x", SHA256: "ab"}, "darwin/arm64": {URL: "https://other.example/y", SHA256: "cd", Bin: "bin/tool"}},
			"1.10.0": {"linux/amd64": {URL: "b/x", SHA256: "ef"}},
		}},
	}
	got := o.Info("tool")
	if got.Index != "main" || got.Description != "A tool" {
		t.Errorf("Info = %+v", got)
	}
	if !reflect.DeepEqual(got.Versions, []string{"1.10.0", "1.0.0"}) {
		t.Errorf("Versions = %v, want newest first", got.Versions)
	}
	if !reflect.DeepEqual(got.Platforms, map[string][]string{"1.10.0": {"linux/amd64"}, "1.0.0": {"darwin/arm64", "linux/amd64"}}) {
		t.Errorf("Platforms = %v", got.Platforms)
	}
	want := map[string]map[string]ArtifactInfo{
		"1.10.0": {"linux/amd64": {URL: "https://example.com/idx/b/x", SHA256: "ef"}},
		"1.0.0": {"linux/amd64": {URL: "https://example.com/idx/a/x", SHA256: "ab"},
			"darwin/arm64": {URL: "https://other.example/y", SHA256: "cd", Bin: "bin/tool"}},
	}
	if !reflect.DeepEqual(got.Artifacts, want) {
		t.Errorf("Artifacts = %v, want %v", got.Artifacts, want)
	}
	resolved, err := profile.Resolve(store.Protocol{Profile: profile.Nomad})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Protocol, resolved.WithDefaults("tool")) || got.Protocol.CookieKey == handshake.DefaultCookieKey {
		t.Errorf("Protocol = %+v, want nomad's, with defaults", got.Protocol)
	}
	if none := (Offer{Index: store.Source{Name: "e"}, Meta: &Meta{}}).Info("tool"); none.Versions != nil || none.Platforms == nil || none.Artifacts == nil {
		t.Errorf("an offer of no versions: %+v, want no versions and empty, non-nil maps", none)
	}
}
