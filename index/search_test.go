package index

import (
	"reflect"
	"testing"
)

// Search matches a term in the name, or in the description ignoring case,
// keeps the entries' order, and gives each its newest stable version.
func TestSearch(t *testing.T) {
	vs := func(versions ...string) map[string]map[string]Artifact {
		m := map[string]map[string]Artifact{}
		for _, v := range versions {
			m[v] = map[string]Artifact{"linux/amd64": {URL: "x"}}
		}
		return m
	}
	entries := []Entry{
		{Index: "main", Name: "greeter", Plugin: Plugin{Description: "Says hello", Versions: vs("1.0.0", "1.10.0", "1.2.0", "2.0.0-rc.1")}},
		{Index: "team", Name: "greeter", Plugin: Plugin{Versions: vs("0.1.0-beta")}},
		{Index: "main", Name: "kv", Plugin: Plugin{Description: "A key-value store that can GREET", Versions: vs("0.3.0")}},
		{Index: "main", Name: "adder", Plugin: Plugin{Description: "Adds", Versions: vs("1.0.0")}},
	}
	got := Search(entries, "Greet")
	want := []Found{
		{Name: "greeter", Index: "main", Description: "Says hello", Latest: "1.10.0"},
		{Name: "greeter", Index: "team"},
		{Name: "kv", Index: "main", Description: "A key-value store that can GREET", Latest: "0.3.0"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Search(greet) =\n%+v\nwant\n%+v", got, want)
	}
	if got := Search(entries, ""); len(got) != len(entries) || got[3].Name != "adder" {
		t.Errorf("Search(\"\") = %+v, want every entry in order", got)
	}
	if got := Search(entries, "nothing"); got == nil || len(got) != 0 {
		t.Errorf("Search(nothing) = %#v, want empty, not nil", got)
	}
}
