package index

import (
	"sort"

	"github.com/plugctl/plugctl/profile"
	"github.com/plugctl/plugctl/store"
)

// OfferInfo is one index's offer of a plugin as info shows it.
type OfferInfo struct {
	Index       string
	Description string
	// Protocol is what install would record: the profile's values (an
	// index naming an unknown one failed to parse), defaults applied.
	Protocol  store.Protocol
	Versions  []string                           // newest first
	Platforms map[string][]string                // version → its os/arch, sorted
	Artifacts map[string]map[string]ArtifactInfo // version → os/arch → artifact
}

// ArtifactInfo is one artifact of an OfferInfo, its URL made absolute
// against the index's address.
type ArtifactInfo struct {
	URL    string
	SHA256 string
	Bin    string
}

// Info describes the offer o of the plugin name.
func (o Offer) Info(name string) OfferInfo {
	proto, _ := profile.Resolve(o.Plugin.Protocol)
	oi := OfferInfo{Index: o.Index.Name, Description: o.Plugin.Description, Protocol: proto.WithDefaults(name),
		Platforms: map[string][]string{}, Artifacts: map[string]map[string]ArtifactInfo{}}
	for _, v := range o.Plugin.SortedVersions() {
		oi.Versions = append(oi.Versions, v.String())
		arts := o.Plugin.Versions[v.Original()]
		var plats []string
		oi.Artifacts[v.String()] = map[string]ArtifactInfo{}
		for plat, art := range arts {
			plats = append(plats, plat)
			u, _ := ResolveURL(o.Meta, art.URL)
			oi.Artifacts[v.String()][plat] = ArtifactInfo{URL: u, SHA256: string(art.SHA256), Bin: art.Bin}
		}
		sort.Strings(plats)
		oi.Platforms[v.String()] = plats
	}
	return oi
}
