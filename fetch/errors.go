package fetch

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// ErrNotFound is matched (errors.Is) by an HTTP 404, a missing local file
// or directory, and a path missing from a git checkout.
var ErrNotFound = errors.New("not found")

// ErrTooLarge is wrapped when a download exceeds Options.MaxBytes.
var ErrTooLarge = errors.New("larger than the size limit")

// HTTPError is an HTTP response that did not deliver the file.
type HTTPError struct {
	URL    string // the URL that answered (after redirects), without credentials
	Status int

	redirected bool // URL is not the address the caller asked for
}

func (e *HTTPError) Error() string {
	msg := fmt.Sprintf("http status %d %s", e.Status, strings.ToLower(http.StatusText(e.Status)))
	if e.redirected {
		msg += " from " + e.URL
	}
	return strings.TrimSpace(msg)
}

// Is makes a 404 match ErrNotFound.
func (e *HTTPError) Is(target error) bool {
	return target == ErrNotFound && e.Status == http.StatusNotFound
}

// notFoundError marks err as ErrNotFound while keeping its message.
type notFoundError struct{ err error }

func (e *notFoundError) Error() string        { return e.err.Error() }
func (e *notFoundError) Unwrap() error        { return e.err }
func (e *notFoundError) Is(target error) bool { return target == ErrNotFound }

// scrubbedError replaces a message that may carry credentials (git's and
// go-getter's messages quote URLs) while keeping the chain for errors.Is.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

// scrub removes each secret from err's message.
func scrub(err error, secrets []string) error {
	msg := err.Error()
	clean := msg
	for _, s := range secrets {
		if s != "" {
			clean = strings.ReplaceAll(clean, s, "")
		}
	}
	if clean == msg {
		return err
	}
	return &scrubbedError{msg: clean, err: err}
}

// DoubleSlashError is an HTTP URL whose path holds "//": go-getter reads
// that as a subdirectory of what comes before it, so it would fetch
// something else than the URL says.
type DoubleSlashError struct{ URL string }

func (e *DoubleSlashError) Error() string {
	return "its path contains '//', which go-getter reads as a subdirectory"
}

// Fixed is the URL with every "//" in its path made one "/".
func (e *DoubleSlashError) Fixed() string {
	u, err := url.Parse(e.URL)
	if err != nil {
		return e.URL
	}
	for strings.Contains(u.Path, "//") {
		u.Path = strings.ReplaceAll(u.Path, "//", "/")
	}
	u.RawPath = ""
	return u.String()
}

// ErrLocalFromRemote is wrapped by a *LocalRefError.
var ErrLocalFromRemote = errors.New("a remote index may not name local files")

// LocalRefError is an address in a remote (http(s) or git) index that
// names the local file system: a file:// URL, an absolute path, or a git
// repository on a local path. Followed, it would install whatever the
// machine running plugctl holds at that path, chosen by whoever serves the
// index.
type LocalRefError struct {
	Base string // the index's address
	Ref  string // the address as the index wrote it
}

func (e *LocalRefError) Error() string {
	return fmt.Sprintf("%q names a local file, which an index served from %s may not do (only a remote address or a path relative to the index)", e.Ref, redact(e.Base))
}

func (e *LocalRefError) Unwrap() error { return ErrLocalFromRemote }
