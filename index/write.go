package index

import (
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"

	"github.com/plugctl/plugctl/store"
)

// Marshal renders idx in a stable order (plugins by name, versions by
// semver, oldest first, platforms by name), so that adding a version to a
// file written by plugctl changes only that version's lines. asJSON picks
// JSON; otherwise YAML, with every string quoted so no hash or version is
// ever read back as a number.
func Marshal(idx *Index, asJSON bool) []byte {
	root := obj{{"apiVersion", str(idx.APIVersion)}}
	if idx.Version != 0 {
		root = append(root, kv{"version", num(idx.Version)})
	}
	if idx.Expires != nil {
		root = append(root, kv{"expires", str(idx.Expires.UTC().Format(time.RFC3339))})
	}
	plugins := obj{}
	for _, name := range idx.Names() {
		plugins = append(plugins, kv{name, pluginNode(idx.Plugins[name])})
	}
	root = append(root, kv{"plugins", plugins})
	var b strings.Builder
	if asJSON {
		writeJSON(&b, root, 0)
		b.WriteByte('\n')
	} else {
		writeYAML(&b, root, 0)
	}
	return []byte(b.String())
}

func pluginNode(p Plugin) obj {
	o := obj{}
	if p.Description != "" {
		o = append(o, kv{"description", str(p.Description)})
	}
	if pr := protocolNode(p.Protocol); len(pr) > 0 {
		o = append(o, kv{"protocol", pr})
	}
	var vs []*semver.Version
	for v := range p.Versions {
		if sv, err := semver.StrictNewVersion(v); err == nil {
			vs = append(vs, sv)
		}
	}
	sort.Sort(semver.Collection(vs))
	versions := obj{}
	for _, v := range vs {
		arts := p.Versions[v.Original()]
		plats := make([]string, 0, len(arts))
		for k := range arts {
			plats = append(plats, k)
		}
		sort.Strings(plats)
		po := obj{}
		for _, plat := range plats {
			a := arts[plat]
			ao := obj{{"url", str(a.URL)}}
			if a.SHA256 != "" {
				ao = append(ao, kv{"sha256", str(string(a.SHA256))})
			}
			if a.H1 != "" {
				ao = append(ao, kv{"h1", str(a.H1)})
			}
			if a.Bin != "" {
				ao = append(ao, kv{"bin", str(a.Bin)})
			}
			po = append(po, kv{plat, ao})
		}
		versions = append(versions, kv{v.Original(), po})
	}
	return append(o, kv{"versions", versions})
}

func protocolNode(p store.Protocol) obj {
	o := obj{}
	add := func(k, v string) {
		if v != "" {
			o = append(o, kv{k, str(v)})
		}
	}
	add("kind", p.Kind)
	switch len(p.Versions) {
	case 0:
	case 1:
		o = append(o, kv{"version", num(int64(p.Versions[0]))})
	default:
		o = append(o, kv{"version", ints(p.Versions)})
	}
	add("cookieKey", p.CookieKey)
	add("cookieValue", p.CookieValue)
	add("dispense", p.Dispense)
	if p.Schema != nil {
		o = append(o, kv{"schema", obj{{"url", str(p.Schema.URL)}, {"sha256", str(p.Schema.SHA256)}}})
	}
	add("mtls", string(p.MTLS))
	add("profile", p.Profile)
	return o
}

// A tiny ordered document model: enough for an index, and nothing YAML
// could misread.
type (
	kv struct {
		k string
		v any
	}
	obj  []kv
	str  string
	num  int64
	ints []int
)

func quote(s string) string {
	b, _ := json.Marshal(s) // a JSON string is a valid YAML double-quoted scalar
	return string(b)
}

// yamlKey leaves plain the keys that cannot be misread (names, os/arch),
// and quotes the rest (versions, which look like numbers).
func yamlKey(k string) string {
	for _, c := range k {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '/' || c == '_' || c == '-' || c >= '0' && c <= '9') {
			return quote(k)
		}
	}
	if k == "" || k[0] >= '0' && k[0] <= '9' || k[0] == '-' {
		return quote(k)
	}
	switch strings.ToLower(k) {
	case "y", "yes", "n", "no", "true", "false", "on", "off", "null", "~":
		return quote(k)
	}
	return k
}

func writeYAML(b *strings.Builder, o obj, depth int) {
	ind := strings.Repeat("  ", depth)
	for _, e := range o {
		b.WriteString(ind + yamlKey(e.k) + ":")
		switch v := e.v.(type) {
		case obj:
			if len(v) == 0 {
				b.WriteString(" {}\n")
				continue
			}
			b.WriteByte('\n')
			writeYAML(b, v, depth+1)
		case str:
			if e.k == "apiVersion" || e.k == "kind" || e.k == "mtls" {
				b.WriteString(" " + string(v) + "\n")
			} else {
				b.WriteString(" " + quote(string(v)) + "\n")
			}
		case num:
			b.WriteString(" " + strconv.FormatInt(int64(v), 10) + "\n")
		case ints:
			b.WriteString(" " + intList(v) + "\n")
		}
	}
}

func intList(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return "[" + strings.Join(s, ", ") + "]"
}

func writeJSON(b *strings.Builder, o obj, depth int) {
	if len(o) == 0 {
		b.WriteString("{}")
		return
	}
	ind := strings.Repeat("  ", depth+1)
	b.WriteString("{\n")
	for i, e := range o {
		b.WriteString(ind + quote(e.k) + ": ")
		switch v := e.v.(type) {
		case obj:
			writeJSON(b, v, depth+1)
		case str:
			b.WriteString(quote(string(v)))
		case num:
			b.WriteString(strconv.FormatInt(int64(v), 10))
		case ints:
			b.WriteString(intList(v))
		}
		if i < len(o)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString(strings.Repeat("  ", depth) + "}")
}
