package fetch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	getter "github.com/hashicorp/go-getter/v2"

	"github.com/plugctl/plugctl/internal/regfile"
)

// Defaults for Options.
const (
	DefaultMaxBytes    = 1 << 30 // 1 GiB
	DefaultIdleTimeout = 30 * time.Second
	DefaultGitTimeout  = 10 * time.Minute // every git command, when Options.Timeout is 0
)

// Options configure a Fetcher. The zero value is usable.
type Options struct {
	// HTTPClient sends the requests. nil: net/http's default transport
	// (HTTPS_PROXY, NO_PROXY and SSL_CERT_FILE honoured) without
	// transparent gzip. Its transport is wrapped to add credentials, and
	// plugctl's redirect policy (no https→http, at most 10 hops) runs before
	// its own CheckRedirect.
	HTTPClient *http.Client
	// Timeout bounds each File or Dir call as a whole; 0: only ctx does.
	// Each git command is also bounded by DefaultGitTimeout.
	Timeout time.Duration
	// IdleTimeout fails an HTTP download that receives nothing for this
	// long (from the request until the body ends). 0: DefaultIdleTimeout;
	// negative: none.
	IdleTimeout time.Duration
	// MaxBytes refuses a file larger than this, and a local directory
	// holding more. 0: DefaultMaxBytes; negative: no limit.
	MaxBytes int64
	// Pwd makes relative local paths absolute; with it empty they are an
	// error.
	Pwd string
	// Progress, when set, is called once per file download with a name and
	// the announced size (-1 when unknown); every byte written to the file
	// is then also written to the io.Writer it returns (nil for none).
	Progress func(name string, total int64) io.Writer
	// Platform (os/arch) picks the manifest of a registry image index;
	// "": this machine's.
	Platform string
}

// Fetcher fetches files and directories. It is safe for concurrent use.
type Fetcher struct {
	opts   Options
	client *http.Client
	oci    *ociTransport
	getenv func(string) string
}

// New returns a Fetcher with o's settings.
func New(o Options) *Fetcher {
	if o.IdleTimeout == 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	f := &Fetcher{opts: o, getenv: os.Getenv}
	c := o.HTTPClient
	if c == nil {
		idle := o.IdleTimeout
		if idle < 0 {
			idle = 0
		}
		c = defaultHTTPClient(idle)
	}
	f.client = wrapClient(c, &credentials{getenv: func(k string) string { return f.getenv(k) }})
	f.oci = newOCITransport(f, c)
	return f
}

// Result describes a fetched file.
type Result struct {
	SHA256 string // lower-case hex of the bytes written to dst
	Size   int64
	// From a registry: the layer's title (its file name, "" when it has
	// none), the digest of the manifest it was taken from (for an image
	// index, the platform's manifest) and its own digest.
	Name        string
	OCIManifest string
	OCILayer    string
}

// File fetches the single file that addr delivers to dst, which must not
// exist (its parent must), hashing the bytes while they are written, and
// returns their SHA-256. addr is an http(s) URL, a local path (absolute or
// relative to Options.Pwd), a file:// URL, a git address whose //
// subpath names a file (git::https://host/repo.git//dir/index.yaml?ref=main),
// or a registry address (oci://REGISTRY/REPOSITORY:TAG or @sha256:DIGEST),
// whose layer is chosen by dst's base name (see pickLayer) and checked
// against its digest.
// The bytes go to a fresh temporary file beside dst, renamed to dst (mode
// 0644) only on success; on any error nothing is left behind.
func (f *Fetcher) File(ctx context.Context, addr, dst string) (Result, error) {
	res, err := f.file(ctx, addr, dst)
	if err != nil {
		return Result{}, f.wrap(addr, err)
	}
	return res, nil
}

// Dir fetches a directory source into dst, which must not exist (its
// parent must): a git repository (optionally a //subdirectory of it, at
// ?ref=) or a local directory. No .git is left behind; a symbolic link that
// does not resolve inside the tree is an error. A git ref starting with '-'
// is refused.
func (f *Fetcher) Dir(ctx context.Context, addr, dst string) error {
	if err := f.dir(ctx, addr, dst); err != nil {
		return f.wrap(addr, err)
	}
	return nil
}

func (f *Fetcher) wrap(addr string, err error) error {
	return fmt.Errorf("fetch %s: %w", redact(addr), scrub(err, secretsOf(addr)))
}

func (f *Fetcher) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if f.opts.Timeout > 0 {
		return context.WithTimeout(ctx, f.opts.Timeout)
	}
	return context.WithCancel(ctx)
}

func checkDst(dst string) error {
	if dst == "" {
		return errors.New("empty destination")
	}
	if _, err := os.Lstat(dst); err == nil {
		return fmt.Errorf("destination %s already exists", dst)
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

func (f *Fetcher) file(ctx context.Context, addr, dst string) (Result, error) {
	s, err := parse(addr, f.opts.Pwd)
	if err != nil {
		return Result{}, err
	}
	if err := checkDst(dst); err != nil {
		return Result{}, err
	}
	tctx, cancel := f.withTimeout(ctx)
	defer cancel()
	var res Result
	switch s.kind {
	case kindHTTP:
		res, err = f.httpFile(tctx, s, dst)
	case kindLocal:
		res, err = f.localFile(tctx, s.path, dst)
	case kindGit:
		res, err = f.gitFile(tctx, s, dst)
	case kindOCI:
		res, err = f.ociFile(tctx, s, dst)
	}
	return res, f.timeoutError(ctx, tctx, err)
}

// timeoutError says so when Options.Timeout, not the caller, ended the
// fetch: git reports a killed command in its own words.
func (f *Fetcher) timeoutError(parent, ctx context.Context, err error) error {
	if err != nil && f.opts.Timeout > 0 && parent.Err() == nil && ctx.Err() == context.DeadlineExceeded {
		return fmt.Errorf("timed out after %s: %w", f.opts.Timeout, err)
	}
	return err
}

func (f *Fetcher) dir(ctx context.Context, addr, dst string) error {
	s, err := parse(addr, f.opts.Pwd)
	if err != nil {
		return err
	}
	if err := checkDst(dst); err != nil {
		return err
	}
	tctx, cancel := f.withTimeout(ctx)
	defer cancel()
	switch s.kind {
	case kindLocal:
		return f.timeoutError(ctx, tctx, f.localDir(tctx, s.path, dst))
	case kindGit:
		return f.timeoutError(ctx, tctx, f.gitDir(tctx, s, dst))
	case kindOCI:
		return errors.New("a registry address delivers a file, not a directory (install unpacks archives itself)")
	default:
		return errors.New("an http address delivers a file, not a directory (install unpacks archives itself)")
	}
}

// tempBeside creates an empty temporary file in dst's directory.
func tempBeside(dst string) (string, error) {
	t, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".*.part")
	if err != nil {
		return "", err
	}
	name := t.Name()
	if err := t.Close(); err != nil {
		os.Remove(name)
		return "", err
	}
	return name, nil
}

func commitFile(tmp, dst string) error {
	if err := os.Chmod(tmp, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}

var errIdle = errors.New("idle timeout")

// watchedBody is the sink of one download (hashing, bounded by MaxBytes)
// and ctx cancelled with errIdle when no data arrives for IdleTimeout
// (each read of data re-arms it); stop releases both.
func (f *Fetcher) watchedBody(ctx context.Context) (context.Context, *body, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	b := &body{h: sha256.New(), max: f.opts.MaxBytes}
	stop := func() { cancel(nil) }
	if idle := f.opts.IdleTimeout; idle > 0 {
		t := time.AfterFunc(idle, func() { cancel(errIdle) })
		b.onData = func() { t.Reset(idle) }
		stop = func() { t.Stop(); cancel(nil) }
	}
	return ctx, b, stop
}

// idleError is the error of a download that ctx (from watchedBody)
// cancelled for its idle timeout, nil for any other.
func (f *Fetcher) idleError(ctx context.Context) error {
	if context.Cause(ctx) == errIdle {
		return fmt.Errorf("no data received for %s: %w", f.opts.IdleTimeout, errIdle)
	}
	return nil
}

func (f *Fetcher) httpFile(ctx context.Context, s *source, dst string) (res Result, err error) {
	if strings.Contains(s.url.Path, "//") {
		// go-getter would read it as a subdirectory and fetch something else.
		return Result{}, &DoubleSlashError{URL: s.url.String()}
	}
	if s.url.Query().Has("checksum") {
		return Result{}, errors.New("go-getter's checksum parameter is not supported: plugctl checks sha256 itself")
	}
	tmp, err := tempBeside(dst)
	if err != nil {
		return Result{}, err
	}
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()

	ctx, b, stop := f.watchedBody(ctx)
	defer stop()
	tr := &tracker{b: b, progress: f.opts.Progress}
	hg := &getter.HttpGetter{
		Client:                f.client,
		XTerraformGetDisabled: true,
		// The HEAD request only serves resuming, and plugctl never resumes.
		DoNotCheckHeadFirst: true,
	}
	c := &getter.Client{
		Getters:         []getter.Getter{hg},
		Decompressors:   map[string]getter.Decompressor{},
		DisableSymlinks: true,
	}
	req := &getter.Request{Src: s.url.String(), Dst: tmp, GetMode: getter.ModeFile, Copy: true, ProgressListener: tr}
	_, err = c.Get(ctx, req)
	if err != nil {
		return Result{}, f.httpError(ctx, s.url, b, err)
	}
	if !tr.called {
		return Result{}, errNotObserved
	}
	if b.err != nil {
		return Result{}, b.err
	}
	fi, err := os.Stat(tmp)
	if err != nil {
		return Result{}, err
	}
	if fi.Size() != b.n {
		return Result{}, fmt.Errorf("wrote %d bytes, received %d", fi.Size(), b.n)
	}
	if err := commitFile(tmp, dst); err != nil {
		return Result{}, err
	}
	return Result{SHA256: hex.EncodeToString(b.h.Sum(nil)), Size: b.n}, nil
}

// httpError turns what go-getter and net/http return into plugctl's
// message.
func (f *Fetcher) httpError(ctx context.Context, u *url.URL, b *body, err error) error {
	var he *HTTPError
	if errors.As(err, &he) {
		if he.URL != redactURL(u) {
			// A redirect target's query often carries a signature.
			he.redirected = true
			he.URL, _, _ = strings.Cut(he.URL, "?")
		}
		return he
	}
	if b.err != nil {
		return b.err
	}
	if err := f.idleError(ctx); err != nil {
		return err
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.ErrShortWrite) {
		return fmt.Errorf("connection closed after %d bytes, before the end of the body: %w", b.n, err)
	}
	return err
}

// copyFile copies r to a temporary file beside dst through a body (hash,
// limit, progress) and renames it to dst.
func (f *Fetcher) copyFile(ctx context.Context, r io.Reader, name string, size int64, dst string) (Result, error) {
	b := &body{rc: io.NopCloser(ctxReader{ctx, r}), h: sha256.New(), max: f.opts.MaxBytes}
	if b.max >= 0 && size > b.max {
		return Result{}, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, size, b.max)
	}
	if f.opts.Progress != nil {
		b.progress = f.opts.Progress(name, size)
	}
	if err := writeBeside(dst, b, nil); err != nil {
		return Result{}, err
	}
	return Result{SHA256: hex.EncodeToString(b.h.Sum(nil)), Size: b.n}, nil
}

// writeBeside writes r to a temporary file beside dst and renames it to dst
// once check (if not nil) accepts what was written, so dst is either absent
// or whole. On any error the temporary file is removed.
func writeBeside(dst string, r io.Reader, check func() error) (err error) {
	tmp, err := tempBeside(dst)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	w, err := os.OpenFile(tmp, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	_, err = io.Copy(w, r)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if check != nil {
		if err := check(); err != nil {
			return err
		}
	}
	return commitFile(tmp, dst)
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// localFile copies a local file: go-getter's file getter would symlink it
// into place without Copy, and has no hook to hash while copying. A FIFO
// or device in the file's place is refused without waiting on it.
func (f *Fetcher) localFile(ctx context.Context, p, dst string) (Result, error) {
	src, err := regfile.Open(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return Result{}, &notFoundError{err}
		}
		return Result{}, err
	}
	defer src.Close()
	fi, err := src.Stat()
	if err != nil {
		return Result{}, err
	}
	return f.copyFile(ctx, src, filepath.Base(p), fi.Size(), dst)
}
