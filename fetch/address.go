package fetch

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	getter "github.com/hashicorp/go-getter/v2"
)

type kind int

const (
	kindLocal kind = iota + 1
	kindHTTP
	kindGit
	kindOCI
)

// source is an address taken apart.
type source struct {
	kind kind
	path string   // kindLocal: the path, absolute unless Pwd was empty
	url  *url.URL // kindHTTP
	repo string   // kindGit: the repository address for go-getter, query included, no subpath
	sub  string   // kindGit: slash-separated path inside the repository, "" for its root
	ref  string   // kindGit: the ref asked for, "" for the default branch
	oci  ociRef   // kindOCI
}

// forcedRe is go-getter's "getter::address" syntax.
var forcedRe = regexp.MustCompile(`^([A-Za-z0-9]+)::(.+)$`)

func stripForced(addr string) string {
	_, rest := splitForced(addr)
	return rest
}

func splitForced(addr string) (forced, rest string) {
	if m := forcedRe.FindStringSubmatch(addr); m != nil {
		return strings.ToLower(m[1]), m[2]
	}
	return "", addr
}

// gitDetectors are go-getter's git shorthands, without the Bitbucket one,
// which asks api.bitbucket.org at detection time.
var gitDetectors = []getter.Detector{
	new(getter.GitHubDetector),
	new(getter.GitDetector),
	new(getter.GitLabDetector),
}

// detectGit returns the git URL go-getter would turn a scheme-less src
// into ("github.com/o/r", "git@host:o/r.git"), or "".
func detectGit(src string) string {
	for _, d := range gitDetectors {
		out, ok, err := d.Detect(src, "")
		if err != nil || !ok {
			continue
		}
		if forced, rest := splitForced(out); forced == "git" {
			return rest
		}
	}
	return ""
}

// hasScheme reports whether s starts with a URL scheme (more than one
// letter, so that a Windows drive is not one).
func hasScheme(s string) (string, bool) {
	u, err := url.Parse(s)
	if err != nil || len(u.Scheme) < 2 {
		return "", false
	}
	return strings.ToLower(u.Scheme), true
}

// IsGit reports whether addr is a git address: a git:: prefix, a git:// or
// ssh:// URL, or a shorthand go-getter detects as git (github.com/o/r,
// gitlab.com/o/r, git@host:o/r.git).
func IsGit(addr string) bool {
	forced, rest := splitForced(addr)
	if forced != "" {
		return forced == "git"
	}
	if scheme, ok := hasScheme(rest); ok {
		return scheme == "git" || scheme == "ssh"
	}
	base, _ := getter.SourceDirSubdir(rest)
	return detectGit(base) != ""
}

// parse classifies addr. pwd makes relative local paths absolute.
func parse(addr, pwd string) (*source, error) {
	if addr == "" {
		return nil, errors.New("empty address")
	}
	forced, rest := splitForced(addr)
	switch forced {
	case "":
	case "git":
		return parseGit(rest, pwd)
	case "file":
		if scheme, ok := hasScheme(rest); ok && scheme != "file" {
			return nil, fmt.Errorf("file:: needs a path or a file:// URL")
		}
	case "http", "https":
		if scheme, ok := hasScheme(rest); !ok || (scheme != "http" && scheme != "https") {
			return nil, fmt.Errorf("%s:: needs an http or https URL", forced)
		}
	default:
		return nil, fmt.Errorf("unsupported getter %q (plugctl speaks http, https, file, git and oci)", forced)
	}
	if scheme, ok := hasScheme(rest); ok {
		switch scheme {
		case "http", "https":
			u, err := url.Parse(rest)
			if err != nil {
				return nil, err
			}
			if u.Host == "" {
				return nil, errors.New("url has no host")
			}
			return &source{kind: kindHTTP, url: u}, nil
		case "file":
			u, err := url.Parse(rest)
			if err != nil {
				return nil, err
			}
			if u.Host != "" && u.Host != "localhost" {
				return nil, fmt.Errorf("file url names host %q: only local files can be read", u.Host)
			}
			return localSource(u.Path, pwd)
		case "git", "ssh":
			return parseGit(rest, pwd)
		case OCIScheme:
			return parseOCI(rest)
		default:
			return nil, fmt.Errorf("unsupported url scheme %q (plugctl speaks http, https, file, git and oci)", scheme)
		}
	}
	if forced == "" {
		base, sub := getter.SourceDirSubdir(rest)
		if d := detectGit(base); d != "" {
			return gitSource(d, sub, pwd)
		}
	}
	return localSource(rest, pwd)
}

func localSource(p, pwd string) (*source, error) {
	if p == "" {
		return nil, errors.New("empty path")
	}
	p = filepath.FromSlash(p)
	if !filepath.IsAbs(p) {
		if pwd == "" {
			return nil, fmt.Errorf("relative path %s needs a working directory", p)
		}
		p = filepath.Join(pwd, p)
	}
	return &source{kind: kindLocal, path: filepath.Clean(p)}, nil
}

func parseGit(rest, pwd string) (*source, error) {
	base, sub := getter.SourceDirSubdir(rest)
	if _, ok := hasScheme(base); !ok {
		if d := detectGit(base); d != "" {
			base = d
		}
	}
	return gitSource(base, sub, pwd)
}

// gitSource checks a git repository address (query included) and subpath.
// go-getter runs `git clone URL` and `git checkout REF` with no `--`, so
// neither may look like an option.
func gitSource(repo, sub, pwd string) (*source, error) {
	loc, rawQuery, _ := strings.Cut(repo, "?")
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, fmt.Errorf("git address query: %w", err)
	}
	for _, r := range q["ref"] {
		if strings.HasPrefix(r, "-") {
			return nil, fmt.Errorf("git ref %q must not start with '-'", r)
		}
	}
	if len(q["ref"]) > 1 {
		return nil, errors.New("git address names more than one ref")
	}
	// go-getter never passes --branch to clone, so a shallow clone of a tag
	// off the default branch fails: always clone in full.
	q.Del("depth")
	if strings.HasPrefix(loc, "-") {
		return nil, fmt.Errorf("git repository %q must not start with '-'", loc)
	}
	if loc == "" {
		return nil, errors.New("git address names no repository")
	}
	if scheme, ok := hasScheme(loc); ok {
		switch scheme {
		case "https", "http", "ssh", "git", "file":
		default:
			return nil, fmt.Errorf("unsupported git transport %q", scheme)
		}
	} else if !scpLike(loc) {
		// A local repository path.
		p := filepath.FromSlash(loc)
		if !filepath.IsAbs(p) {
			if pwd == "" {
				return nil, fmt.Errorf("relative git repository path %s needs a working directory", loc)
			}
			p = filepath.Join(pwd, p)
		}
		loc = filepath.ToSlash(filepath.Clean(p))
	}
	s := &source{kind: kindGit, ref: q.Get("ref")}
	if len(q) > 0 {
		loc += "?" + q.Encode()
	}
	s.repo = loc
	if s.sub, err = cleanSub(sub); err != nil {
		return nil, err
	}
	return s, nil
}

// scpLike reports whether s is git's user@host:path form.
func scpLike(s string) bool {
	at := strings.IndexByte(s, '@')
	colon := strings.IndexByte(s, ':')
	slash := strings.IndexByte(s, '/')
	return at > 0 && colon > at && (slash < 0 || colon < slash)
}

// cleanSub makes a // subpath relative and refuses one that climbs out of
// the repository.
func cleanSub(sub string) (string, error) {
	if sub == "" {
		return "", nil
	}
	s := strings.ReplaceAll(sub, "\\", "/")
	for _, el := range strings.Split(s, "/") {
		if el == ".." {
			return "", fmt.Errorf("subpath %q climbs out of the repository", sub)
		}
	}
	return strings.TrimPrefix(path.Clean("/"+s), "/"), nil
}

// userinfo finds the userinfo of a URL (anywhere after a "scheme://"):
// addr[start:end] is it, without its '@'; ok is false when there is none.
func userinfo(addr string) (start, end int, ok bool) {
	i := strings.Index(addr, "://")
	if i < 0 {
		return 0, 0, false
	}
	start = i + 3
	host := len(addr)
	if j := strings.IndexAny(addr[start:], "/?#"); j >= 0 {
		host = start + j
	}
	at := strings.LastIndexByte(addr[start:host], '@')
	if at < 0 {
		return 0, 0, false
	}
	return start, start + at, true
}

// redact removes the userinfo of a URL (anywhere after a "scheme://").
func redact(addr string) string {
	start, end, ok := userinfo(addr)
	if !ok {
		return addr
	}
	return addr[:start] + addr[end+1:]
}

// secretsOf lists the forms in which the credentials in addr may appear
// in messages from git, go-getter or net/http.
func secretsOf(addr string) []string {
	start, end, ok := userinfo(addr)
	if !ok {
		return nil
	}
	raw := addr[start:end]
	out := []string{raw + "@"}
	user, pass, hasPass := strings.Cut(raw, ":")
	if u, err := url.PathUnescape(user); err == nil {
		user = u
	}
	if p, err := url.PathUnescape(pass); err == nil {
		pass = p
	}
	out = append(out, user+":***@", user+":xxxxx@", user+"@", url.User(user).String()+"@")
	if hasPass {
		out = append(out, user+":"+pass+"@", url.UserPassword(user, pass).String()+"@")
		if len(pass) >= 4 {
			out = append(out, pass)
		}
	}
	if len(user) >= 8 { // long enough to be a token used as a user name
		out = append(out, user)
	}
	return out
}

// Resolve resolves ref against base, the address an index was fetched
// from. An absolute ref (a URL with a scheme, a getter:: address, an
// absolute path, or git's user@host:path) is returned as is. Against an
// http(s) base, ref is resolved as a URL; against a local path or file://
// base, relative to the index's directory; against a git base
// (git::URL//sub/index.yaml?ref=R), inside the same repository and ref
// (git::URL//sub/REF?ref=R), where ".." may climb to the repository's root
// but not above it. An absolute path is returned as is, except against an
// http(s) base, where it names a path on the same host.
//
// A remote base (http(s) or git) may name remote addresses and paths
// relative to itself only: a ref that names the local file system there (a
// file:// URL or file:: address, an absolute path against a git base, a git
// repository on a local path) is a *LocalRefError. A local base may name
// anything.
func Resolve(base, ref string) (string, error) {
	out, err := resolve(base, ref)
	if err != nil {
		return "", err
	}
	if base != "" && isRemote(base) && !isRelative(ref) && isLocal(out) {
		return "", &LocalRefError{Base: base, Ref: ref}
	}
	return out, nil
}

// isRemote reports whether addr is fetched over the network: an http(s)
// URL or a git address (a git repository on a local path included: what it
// names is relative to that repository, never to this machine).
func isRemote(addr string) bool {
	if IsGit(addr) {
		return true
	}
	scheme, ok := hasScheme(stripForced(addr))
	return ok && (scheme == "http" || scheme == "https")
}

// isRelative reports whether ref is resolved against its base rather than
// taken as it is.
func isRelative(ref string) bool {
	if forced, _ := splitForced(ref); forced != "" {
		return false
	}
	if _, ok := hasScheme(ref); ok {
		return false
	}
	if scpLike(ref) && detectGit(ref) != "" {
		return false
	}
	return !filepath.IsAbs(ref) && !strings.HasPrefix(ref, "/")
}

// isLocal reports whether addr reads the local file system: a path, a
// file:// URL or file:: address, or a git repository on a local path.
func isLocal(addr string) bool {
	forced, rest := splitForced(addr)
	if forced == "file" {
		return true
	}
	if IsGit(addr) {
		repo, _ := getter.SourceDirSubdir(rest)
		repo, _, _ = strings.Cut(repo, "?")
		if scheme, ok := hasScheme(repo); ok {
			return scheme == "file"
		}
		return !scpLike(repo) && detectGit(repo) == ""
	}
	if scheme, ok := hasScheme(rest); ok {
		return scheme == "file"
	}
	return true
}

func resolve(base, ref string) (string, error) {
	if ref == "" {
		return "", errors.New("resolve: empty reference")
	}
	if forced, _ := splitForced(ref); forced != "" {
		return ref, nil
	}
	if _, ok := hasScheme(ref); ok {
		return ref, nil
	}
	if scpLike(ref) && detectGit(ref) != "" {
		return ref, nil
	}
	if base == "" {
		return "", fmt.Errorf("resolve %s: empty base", ref)
	}
	// Against a web index, "/path" is a path on the same host.
	if scheme, ok := hasScheme(stripForced(base)); IsGit(base) || !ok || (scheme != "http" && scheme != "https") {
		if filepath.IsAbs(ref) || strings.HasPrefix(ref, "/") {
			return ref, nil
		}
	}
	if IsGit(base) {
		return resolveGit(base, ref)
	}
	forced, rest := splitForced(base)
	prefix := ""
	if forced != "" {
		prefix = forced + "::"
	}
	if scheme, ok := hasScheme(rest); ok {
		bu, err := url.Parse(rest)
		if err != nil {
			return "", fmt.Errorf("resolve %s against %s: %w", ref, redact(base), err)
		}
		switch scheme {
		case "http", "https":
			ru, err := url.Parse(ref)
			if err != nil {
				return "", fmt.Errorf("resolve %s: %w", ref, err)
			}
			return prefix + bu.ResolveReference(ru).String(), nil
		case "file":
			dir := path.Dir(bu.Path)
			out := *bu
			out.Path = path.Join(dir, filepath.ToSlash(ref))
			out.RawPath = ""
			out.RawQuery = ""
			return prefix + out.String(), nil
		default:
			return "", fmt.Errorf("resolve %s: unsupported base %s", ref, redact(base))
		}
	}
	// A local path, absolute or relative to the caller's working directory.
	return prefix + filepath.Join(filepath.Dir(rest), filepath.FromSlash(ref)), nil
}

func resolveGit(base, ref string) (string, error) {
	forced, rest := splitForced(base)
	if forced == "" {
		forced = "git"
	}
	repo, sub := getter.SourceDirSubdir(rest)
	refPath, refQuery, _ := strings.Cut(ref, "?")
	dir := path.Dir("/" + sub) // the index's directory inside the repository
	joined := path.Join(dir, filepath.ToSlash(refPath))
	// dir is rooted, so Join clamps ".." at the root; detect climbing above it.
	if climbs(strings.TrimPrefix(dir, "/"), filepath.ToSlash(refPath)) {
		return "", fmt.Errorf("resolve %s against %s: climbs out of the repository", ref, redact(base))
	}
	joined = strings.TrimPrefix(joined, "/")
	loc, q, _ := strings.Cut(repo, "?")
	out := forced + "::" + loc
	if joined != "" {
		out += "//" + joined
	}
	if refQuery != "" {
		if q != "" {
			q += "&"
		}
		q += refQuery
	}
	if q != "" {
		out += "?" + q
	}
	return out, nil
}

// climbs reports whether rel, taken from dir (both slash-separated and
// relative to a root), goes above that root at any point.
func climbs(dir, rel string) bool {
	depth := 0
	if dir != "" && dir != "." {
		depth = len(strings.Split(dir, "/"))
	}
	for _, el := range strings.Split(rel, "/") {
		switch el {
		case "", ".":
		case "..":
			depth--
			if depth < 0 {
				return true
			}
		default:
			depth++
		}
	}
	return false
}
