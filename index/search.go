package index

import "strings"

// Found is one plugin of one index that Search found.
type Found struct {
	Name        string
	Index       string
	Description string
	Latest      string // the newest version that is not a prerelease; "" when there is none
}

// Search returns the entries (All's) whose name, or description ignoring
// case, contains term, in their order; an empty term matches every entry.
func Search(entries []Entry, term string) []Found {
	term = strings.ToLower(term)
	out := []Found{}
	for _, e := range entries {
		if term != "" && !strings.Contains(e.Name, term) && !strings.Contains(strings.ToLower(e.Plugin.Description), term) {
			continue
		}
		m := Found{Name: e.Name, Index: e.Index, Description: e.Plugin.Description}
		for _, v := range e.Plugin.SortedVersions() {
			if v.Prerelease() == "" {
				m.Latest = v.String()
				break
			}
		}
		out = append(out, m)
	}
	return out
}
