package cmd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
)

func newServeCmd(g *Global) *cobra.Command {
	var addr string
	c := &cobra.Command{
		Use:   "serve DIR",
		Short: "Serve an index and its artifacts over HTTP (loopback by default)",
		Long: `Serve DIR over HTTP with net/http's file server (Content-Length, Range, and
conditional requests by ETag and modification time), logging each request on
stderr, until SIGINT or SIGTERM. The address defaults to 127.0.0.1:8080; use
--addr 127.0.0.1:0 to pick a free port. It prints the server's URL and, when
DIR holds index.yaml (or index.yml, index.json), the index's URL to give to
plugctl index add.`,
		Args: args(1, 1),
		RunE: func(cmd *cobra.Command, a []string) error {
			fi, err := os.Stat(a[0])
			if err != nil || !fi.IsDir() {
				return usageErrorf("serve %s: not a directory", a[0])
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("serve: %w", err)
			}
			root := a[0]
			fs := http.FileServer(http.Dir(root))
			srv := &http.Server{
				ReadHeaderTimeout: 10 * time.Second,
				Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					rw := &statusWriter{ResponseWriter: w, status: 200}
					start := time.Now()
					if fi, err := os.Stat(filepath.Join(root, filepath.FromSlash(path.Clean("/"+r.URL.Path)))); err == nil && fi.Mode().IsRegular() {
						// net/http honours If-None-Match and If-Range against an
						// ETag the handler sets; size and mtime identify a file.
						w.Header().Set("ETag", fmt.Sprintf(`"%x-%x"`, fi.Size(), fi.ModTime().UnixNano()))
					}
					fs.ServeHTTP(rw, r)
					if !g.Quiet {
						fmt.Fprintf(g.IO.ErrOut, "%s %s %s %d %d %s\n", time.Now().Format(time.TimeOnly), r.Method, r.URL.Path, rw.status, rw.n, time.Since(start).Round(time.Microsecond))
					}
				}),
			}
			base := "http://" + ln.Addr().String() + "/"
			idx := ""
			for _, name := range []string{"index.yaml", "index.yml", "index.json"} {
				if fi, err := os.Stat(filepath.Join(root, name)); err == nil && fi.Mode().IsRegular() {
					idx = base + name
					break
				}
			}
			if g.JSON() {
				out := map[string]string{"url": base}
				if idx != "" {
					out["index"] = idx
				}
				g.PrintJSON(out)
			} else {
				g.Printf("serving %s on %s\n", a[0], base)
				if idx != "" {
					g.Printf("index: %s (plugctl index add NAME %s)\n", idx, idx)
				} else {
					g.Printf("no index.yaml in %s: plugctl publish %s/index.yaml ARTIFACT … writes one\n", a[0], filepath.Clean(a[0]))
				}
			}
			errc := make(chan error, 1)
			go func() { errc <- srv.Serve(ln) }()
			select {
			case err := <-errc:
				return err
			case <-cmd.Context().Done():
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			g.Infof("stopped\n")
			return nil
		},
	}
	c.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "address to listen on")
	return c
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
