package cmd

import "github.com/spf13/cobra"

func newMirrorCmd(g *Global) *cobra.Command {
	return &cobra.Command{Use: "mirror DIR", Hidden: true, RunE: func(*cobra.Command, []string) error { return usageErrorf("mirror: not built yet") }}
}

func newIndexLintCmd(g *Global) *cobra.Command {
	return &cobra.Command{Use: "lint INDEX", Hidden: true, RunE: func(*cobra.Command, []string) error { return usageErrorf("lint: not built yet") }}
}
