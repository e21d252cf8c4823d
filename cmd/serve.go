package cmd

import (
	"context"
	"errors"
	"io"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/plugctl/plugctl/publish"
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
			return serveRun(cmd.Context(), g, a[0], addr)
		},
	}
	c.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "address to listen on")
	return c
}

func serveRun(ctx context.Context, g *Global, dir, addr string) error {
	var log io.Writer
	if !g.Quiet {
		log = g.IO.ErrOut
	}
	srv, err := publish.Listen(addr, dir, log)
	if errors.Is(err, publish.ErrNotDirectory) {
		return usageErrorf("%v", err)
	}
	if err != nil {
		return err
	}
	if g.JSON() {
		out := map[string]string{"url": srv.URL}
		if srv.IndexURL != "" {
			out["index"] = srv.IndexURL
		}
		g.PrintJSON(out)
	} else {
		g.Printf("serving %s on %s\n", dir, srv.URL)
		if srv.IndexURL != "" {
			g.Printf("index: %s (plugctl index add NAME %s)\n", srv.IndexURL, srv.IndexURL)
		} else {
			g.Printf("no index.yaml in %s: plugctl publish %s/index.yaml ARTIFACT … writes one\n", dir, filepath.Clean(dir))
		}
	}
	if err := srv.Serve(ctx); err != nil {
		return err
	}
	g.Infof("stopped\n")
	return nil
}
