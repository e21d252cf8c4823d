package publish

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"time"
)

// ErrNotDirectory is returned when Serve is given something other than a
// directory to serve.
var ErrNotDirectory = errors.New("not a directory")

// Server serves a directory (an index and its artifacts) over HTTP with
// net/http's file server: Content-Length, Range, and conditional requests
// by ETag and modification time.
type Server struct {
	Dir string
	// URL is the server's address, http://HOST:PORT/; IndexURL that of the
	// directory's index.yaml (or index.yml, index.json), "" when it has
	// none.
	URL, IndexURL string
	ln            net.Listener
	srv           *http.Server
}

// Listen listens on addr for a server of dir, which Serve then runs. log,
// when not nil, gets one line for each request.
func Listen(addr, dir string, log io.Writer) (*Server, error) {
	fi, err := os.Stat(dir)
	if err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("serve %s: %w", dir, ErrNotDirectory)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	s := &Server{Dir: dir, ln: ln, URL: "http://" + ln.Addr().String() + "/"}
	for _, name := range []string{"index.yaml", "index.yml", "index.json"} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err == nil && fi.Mode().IsRegular() {
			s.IndexURL = s.URL + name
			break
		}
	}
	fs := http.FileServer(http.Dir(dir))
	s.srv = &http.Server{
		ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rw := &statusWriter{ResponseWriter: w, status: 200}
			start := time.Now()
			if fi, err := os.Stat(filepath.Join(dir, filepath.FromSlash(path.Clean("/"+r.URL.Path)))); err == nil && fi.Mode().IsRegular() {
				// net/http honours If-None-Match and If-Range against an
				// ETag the handler sets; size and mtime identify a file.
				w.Header().Set("ETag", fmt.Sprintf(`"%x-%x"`, fi.Size(), fi.ModTime().UnixNano()))
			}
			fs.ServeHTTP(rw, r)
			if log != nil {
				fmt.Fprintf(log, "%s %s %s %d %d %s\n", time.Now().Format(time.TimeOnly), r.Method, r.URL.Path, rw.status, rw.n, time.Since(start).Round(time.Microsecond))
			}
		}),
	}
	return s, nil
}

// Serve serves until ctx is done, then shuts the server down, giving
// requests under way a few seconds to end.
func (s *Server) Serve(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(s.ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

type statusWriter struct {
	http.ResponseWriter
	status int
	n      int64
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	n, err := w.ResponseWriter.Write(b)
	w.n += int64(n)
	return n, err
}
