package index

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	yaml "go.yaml.in/yaml/v3"

	"github.com/plugctl/plugctl/fetch"
	"github.com/plugctl/plugctl/store"
	"github.com/plugctl/plugctl/verify"
)

// Problem is one thing wrong with an index file: where (a dotted path such
// as plugins.greeter.versions."1.2.0".linux/amd64.sha256, and the line) and
// what.
type Problem struct {
	Path    string `json:"path"`
	Line    int    `json:"line,omitempty"`
	Message string `json:"message"`
}

func (p Problem) String() string {
	if p.Path == "" {
		return p.Message
	}
	return p.Path + ": " + p.Message
}

// LintArtifact is one artifact (or gRPC schema) entry that Lint found well
// formed enough to fetch and hash.
type LintArtifact struct {
	Path   string // of the entry, as in Problem
	Line   int
	URL    string // as written
	SHA256 string
	H1     string
	Bin    string
}

// LintOptions say what Lint knows beyond the bytes.
type LintOptions struct {
	// Base is the index's own address (an absolute path for a local file);
	// relative URLs that resolve to local files must exist. Empty: not
	// checked.
	Base string
	// Signed: a signature lies beside the index, so version and expires
	// are required and expires must be in the future.
	Signed bool
	Now    time.Time
	// Keys, when given, are minisign public keys that Signature (the
	// bytes of INDEX.minisig; nil when there is none) must verify with, as
	// a client configured with index add --key checks it.
	Keys      []string
	Signature []byte
}

// LintReport is what Lint found.
type LintReport struct {
	Problems  []Problem
	Artifacts []LintArtifact
	Plugins   int
}

// Lint checks an index file strictly and lists every problem, in document
// order, rather than stopping at the first as Parse does: unknown fields,
// duplicate keys, plugin names, semantic versions (and versions equal as
// semver), platforms from Go's known list, sha256 strings of 64 hex digits,
// protocol fields, relative URLs that do not resolve to a file, and the
// fields a signed index needs. It walks the YAML (or JSON) node tree
// itself, so it also sees what a decoder would silently merge or convert.
func Lint(data []byte, o LintOptions) *LintReport {
	l := &linter{opts: o, rep: &LintReport{}}
	if o.Now.IsZero() {
		l.opts.Now = time.Now()
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		msg, line := strings.TrimPrefix(err.Error(), "yaml: "), 0
		if rest, ok := strings.CutPrefix(msg, "line "); ok {
			if n, after, ok := strings.Cut(rest, ": "); ok {
				if line, err = strconv.Atoi(n); err == nil {
					msg = after
				}
			}
		}
		l.add("", line, "not valid YAML or JSON: %s", msg)
		return l.rep
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		l.add("", 0, "empty file")
		return l.rep
	}
	if len(o.Keys) > 0 {
		l.opts.Signed = true
		switch {
		case o.Signature == nil:
			l.add("", 0, "no signature beside the index (INDEX.minisig), and --key asks for one: plugctl index sign INDEX --key PREFIX.key")
		default:
			if err := verify.CheckSignature("", o.Keys, data, o.Signature); err != nil {
				var se *verify.SignatureError
				if errors.As(err, &se) {
					l.add("", 0, "signature: %s", se.Reason)
				} else {
					l.add("", 0, "signature: %v", err)
				}
			}
		}
	}
	l.budget = aliasExpansion*countNodes(&doc) + 1000
	l.root(doc.Content[0])
	sort.SliceStable(l.rep.Problems, func(i, j int) bool { return l.rep.Problems[i].Line < l.rep.Problems[j].Line })
	if len(l.rep.Problems) == 0 {
		// A safety net: whatever plugctl itself refuses, lint must too.
		if _, err := ParseStrict(data); err != nil {
			l.add("", 0, "%s", strings.TrimPrefix(err.Error(), ErrMalformed.Error()+": "))
		}
	}
	return l.rep
}

type linter struct {
	opts LintOptions
	rep  *LintReport
	// budget is how many more mapping entries the walk may visit. The walk
	// follows aliases, so without it a few kilobytes of anchors nested on
	// anchors (a "billion laughs") would take minutes and millions of
	// problems; Parse refuses such a file as excessive aliasing.
	budget int
}

// aliasExpansion is how many times its own size the walk may visit of a
// document: aliases of a shared protocol or artifact stay far below it.
const aliasExpansion = 10

// countNodes counts the nodes of a document as written, not following
// aliases.
func countNodes(n *yaml.Node) int {
	c := 1
	for _, k := range n.Content {
		c += countNodes(k)
	}
	return c
}

func (l *linter) add(path string, line int, format string, args ...any) {
	l.rep.Problems = append(l.rep.Problems, Problem{Path: path, Line: line, Message: fmt.Sprintf(format, args...)})
}

// join appends key to a dotted path, quoting a key that holds a dot (such
// as a version) or anything else that would make the path ambiguous.
func join(path, key string) string {
	k := key
	if key == "" || strings.ContainsAny(key, ". \t\"'[]") {
		k = strconv.Quote(key)
	}
	if path == "" {
		return k
	}
	return path + "." + k
}

func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// field is one key: value pair of a mapping.
type field struct {
	key  string
	line int
	val  *yaml.Node
}

// mapping returns the pairs of a mapping node, reporting duplicate keys and
// (when known is not nil) unknown ones. ok is false when n is no mapping.
func (l *linter) mapping(path string, n *yaml.Node, what string, known ...string) ([]field, bool) {
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
			return nil, true
		}
		l.add(path, n.Line, "want a mapping (%s)", what)
		return nil, false
	}
	if l.budget < 0 {
		return nil, false
	}
	if l.budget -= len(n.Content) / 2; l.budget < 0 {
		l.add(path, n.Line, "aliases (*name) expand the index more than %d-fold: plugctl refuses it as excessive aliasing", aliasExpansion)
		return nil, false
	}
	seen := map[string]int{}
	var out []field
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Value == "<<" {
			l.add(path, k.Line, "merge keys (<<) are not allowed in an index")
			continue
		}
		if k.Kind != yaml.ScalarNode {
			l.add(path, k.Line, "a key must be a plain string")
			continue
		}
		if first, dup := seen[k.Value]; dup {
			l.add(join(path, k.Value), k.Line, "duplicate key (first at line %d)", first)
		} else {
			seen[k.Value] = k.Line
		}
		if known != nil && !slices.Contains(known, k.Value) {
			l.add(join(path, k.Value), k.Line, "unknown field (want one of: %s)", strings.Join(known, ", "))
			continue
		}
		out = append(out, field{key: k.Value, line: k.Line, val: v})
	}
	return out, true
}

// str returns a scalar's string value; a number, boolean or null where a
// string belongs is a problem (YAML reads unquoted 1.10 as 1.1).
func (l *linter) str(path string, n *yaml.Node) (string, bool) {
	n = deref(n)
	if n.Kind != yaml.ScalarNode {
		l.add(path, n.Line, "want a string")
		return "", false
	}
	switch n.ShortTag() {
	case "!!str":
		return n.Value, true
	case "!!null":
		l.add(path, n.Line, "is empty")
	default:
		l.add(path, n.Line, "want a string, not %s %s: quote it", strings.TrimPrefix(n.ShortTag(), "!!"), n.Value)
	}
	return "", false
}

func (l *linter) root(n *yaml.Node) {
	fields, ok := l.mapping("", n, "the index: apiVersion, version, expires, plugins", "apiVersion", "version", "expires", "plugins")
	if !ok {
		return
	}
	var version int64
	var expires *time.Time
	var have = map[string]bool{}
	for _, f := range fields {
		have[f.key] = true
		switch f.key {
		case "apiVersion":
			if s, ok := l.str(f.key, f.val); ok && s != APIVersion {
				l.add(f.key, f.line, "%q: want %q", s, APIVersion)
			}
		case "version":
			v := deref(f.val)
			n, err := strconv.ParseInt(v.Value, 10, 64)
			if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!int" || err != nil || n < 1 {
				l.add(f.key, v.Line, "want a whole number of 1 or more (raised at every change of a signed index)")
			} else {
				version = n
			}
		case "expires":
			v := deref(f.val)
			t, err := time.Parse(time.RFC3339, v.Value)
			if v.Kind != yaml.ScalarNode || err != nil {
				l.add(f.key, v.Line, "want an RFC 3339 time such as 2027-01-31T00:00:00Z")
			} else {
				expires = &t
			}
		case "plugins":
			l.plugins(f.val)
		}
	}
	if !have["apiVersion"] {
		l.add("apiVersion", 0, "missing (want %q)", APIVersion)
	}
	if !have["plugins"] {
		l.add("plugins", 0, "missing")
	}
	if l.opts.Signed {
		if version == 0 && !have["version"] {
			l.add("version", 0, "missing: a signed index needs a version (clients refuse it otherwise)")
		}
		if expires == nil && !have["expires"] {
			l.add("expires", 0, "missing: a signed index needs an expiry (clients refuse it otherwise)")
		}
		if expires != nil && !l.opts.Now.Before(*expires) {
			l.add("expires", 0, "expired at %s: re-sign the index (plugctl publish --key or plugctl index sign)", expires.UTC().Format(time.RFC3339))
		}
	}
}

func (l *linter) plugins(n *yaml.Node) {
	fields, ok := l.mapping("plugins", n, "plugin name → entry")
	if !ok {
		return
	}
	for _, f := range fields {
		path := join("plugins", f.key)
		if err := store.ValidName(f.key); err != nil {
			l.add(path, f.line, "invalid plugin name: use lower-case letters, digits, '.', '_' and '-', starting with a letter or digit, at most 64 characters")
		}
		l.rep.Plugins++
		l.plugin(path, f.val)
	}
}

func (l *linter) plugin(path string, n *yaml.Node) {
	fields, ok := l.mapping(path, n, "description, protocol, versions", "description", "protocol", "versions")
	if !ok {
		return
	}
	hasVersions := false
	for _, f := range fields {
		p := join(path, f.key)
		switch f.key {
		case "description":
			l.str(p, f.val)
		case "protocol":
			l.protocol(p, f.val)
		case "versions":
			hasVersions = true
			l.versions(p, f.val)
		}
	}
	if !hasVersions {
		l.add(join(path, "versions"), deref(n).Line, "missing: a plugin needs at least one version")
	}
}

func (l *linter) protocol(path string, n *yaml.Node) {
	fields, ok := l.mapping(path, n, "protocol fields", "kind", "version", "cookieKey", "cookieValue", "dispense", "schema", "mtls")
	if !ok {
		return
	}
	for _, f := range fields {
		p := join(path, f.key)
		switch f.key {
		case "kind":
			if s, ok := l.str(p, f.val); ok && !slices.Contains([]string{store.KindAuto, store.KindGRPC, store.KindNetRPC}, s) {
				l.add(p, f.line, "%q: want auto, grpc or netrpc", s)
			}
		case "version":
			v := deref(f.val)
			items := []*yaml.Node{v}
			if v.Kind == yaml.SequenceNode {
				items = v.Content
				if len(items) == 0 {
					l.add(p, v.Line, "empty list: want a number or a list of numbers")
				}
			}
			for _, it := range items {
				it = deref(it)
				n, err := strconv.Atoi(it.Value)
				if it.Kind != yaml.ScalarNode || it.ShortTag() != "!!int" || err != nil || n < 1 {
					l.add(p, it.Line, "want a handshake protocol version of 1 or more, or a list of them")
				}
			}
		case "cookieKey", "cookieValue", "dispense":
			if s, ok := l.str(p, f.val); ok && s == "" {
				l.add(p, f.line, "is empty (leave it out for the default)")
			}
		case "mtls":
			v := deref(f.val)
			if v.Kind != yaml.ScalarNode || !slices.Contains([]string{"auto", "true", "false"}, strings.ToLower(v.Value)) {
				l.add(p, v.Line, "want auto, true or false")
			}
		case "schema":
			l.artifact(p, f.val, false)
		}
	}
}

func (l *linter) versions(path string, n *yaml.Node) {
	fields, ok := l.mapping(path, n, "version → platforms")
	if !ok {
		return
	}
	seen := map[string]string{} // canonical semver → the key that had it
	for _, f := range fields {
		p := join(path, f.key)
		v, err := semver.StrictNewVersion(f.key)
		if err != nil {
			hint := ""
			if strings.HasPrefix(f.key, "v") {
				hint = ", without a leading v"
			}
			l.add(p, f.line, "not a semantic version (want MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]%s)", hint)
		} else {
			canon := fmt.Sprintf("%d.%d.%d-%s", v.Major(), v.Minor(), v.Patch(), v.Prerelease())
			if other, dup := seen[canon]; dup && other != f.key {
				l.add(p, f.line, "the same version as %q (semver ignores build metadata): one of them can never be chosen", other)
			} else if !dup {
				seen[canon] = f.key
			}
		}
		l.platforms(p, f.val)
	}
}

func (l *linter) platforms(path string, n *yaml.Node) {
	fields, ok := l.mapping(path, n, "os/arch → artifact")
	if !ok {
		return
	}
	if len(fields) == 0 {
		l.add(path, deref(n).Line, "no platforms")
	}
	for _, f := range fields {
		p := join(path, f.key)
		if !KnownPlatform(f.key) {
			l.add(p, f.line, "platform %q: want os/arch from Go's known list (go tool dist list), such as linux/amd64", f.key)
		}
		l.artifact(p, f.val, true)
	}
}

// artifact checks {url, sha256[, h1, bin]} (h1 and bin only for
// artifacts, not for a protocol schema, which is one file). A directory
// artifact may have h1 without sha256.
func (l *linter) artifact(path string, n *yaml.Node, withBin bool) {
	known := []string{"url", "sha256"}
	if withBin {
		known = append(known, "h1", "bin")
	}
	fields, ok := l.mapping(path, n, strings.Join(known, ", "), known...)
	if !ok {
		return
	}
	a := LintArtifact{Path: path, Line: deref(n).Line}
	good := true
	isDir := false // a local directory
	have := map[string]bool{}
	for _, f := range fields {
		p := join(path, f.key)
		have[f.key] = true
		switch f.key {
		case "url":
			s, ok := l.str(p, f.val)
			good = good && ok
			if ok && s == "" {
				l.add(p, f.line, "is empty")
				good = false
			}
			if ok && s != "" {
				a.URL = s
				ok, dir := l.resolves(p, f.line, s, withBin)
				good = good && ok
				isDir = dir
			}
		case "sha256":
			v := deref(f.val)
			switch {
			case v.Kind == yaml.ScalarNode && (v.ShortTag() == "!!int" || v.ShortTag() == "!!float"):
				l.add(p, v.Line, "is a number, not a string: YAML reads an unquoted all-digit hash as a number; quote it (sha256: \"…\")")
				good = false
			case v.Kind != yaml.ScalarNode || v.ShortTag() != "!!str":
				l.add(p, v.Line, "want a quoted string of 64 hex digits")
				good = false
			case !verify.ValidSHA256(v.Value):
				l.add(p, v.Line, "want 64 hex digits (got %d characters)", len(v.Value))
				good = false
			default:
				a.SHA256 = strings.ToLower(v.Value)
			}
		case "h1":
			s, ok := l.str(p, f.val)
			switch {
			case !ok:
				good = false
			case !verify.ValidH1(s):
				l.add(p, f.line, "want \"h1:\" and the base64 of a SHA-256, as plugctl prints a tree hash")
				good = false
			default:
				a.H1 = s
			}
		case "bin":
			s, ok := l.str(p, f.val)
			if ok && (s == "" || filepath.IsAbs(s) || strings.HasPrefix(s, "/") || s == ".." || strings.HasPrefix(filepath.ToSlash(filepath.Clean(s)), "../")) {
				l.add(p, f.line, "%q: want a relative path inside the artifact", s)
			}
			a.Bin = s
		}
	}
	for _, k := range []string{"url", "sha256"} {
		if !have[k] && !(k == "sha256" && have["h1"]) {
			l.add(join(path, k), a.Line, "missing")
			good = false
		}
	}
	if isDir && (!have["h1"] || !have["bin"]) {
		l.add(join(path, "h1"), a.Line, "%q is a directory: it needs bin (its executable) and h1 (its tree hash, which pins every file in it; plugctl publish computes it)", a.URL)
		good = false
	}
	if good {
		l.rep.Artifacts = append(l.rep.Artifacts, a)
	}
}

// resolves checks that a URL which names a local file (a relative URL of a
// local index, or an absolute path) names one that exists; a directory is
// one only where dirOK (an artifact, not a schema), and reported as dir.
func (l *linter) resolves(path string, line int, ref string, dirOK bool) (ok, dir bool) {
	if l.opts.Base == "" {
		return true, false
	}
	abs, err := fetch.Resolve(l.opts.Base, ref)
	if err != nil {
		l.add(path, line, "%q does not resolve: %v", ref, err)
		return false, false
	}
	if fetch.IsGit(abs) || strings.Contains(abs, "::") {
		return true, false
	}
	if u, ok := strings.CutPrefix(abs, "file://"); ok {
		abs = u
	} else if strings.Contains(abs, "://") {
		return true, false
	}
	fi, err := os.Stat(abs)
	switch {
	case errors.Is(err, os.ErrNotExist):
		l.add(path, line, "%q: no such file (%s)", ref, abs)
		return false, false
	case err != nil:
		l.add(path, line, "%q: %v", ref, err)
		return false, false
	case fi.IsDir() && !dirOK:
		l.add(path, line, "%q is a directory (%s)", ref, abs)
		return false, false
	}
	return true, fi.IsDir()
}
