package cmd

import "github.com/spf13/cobra"

// Warm plugins (start, stop, ps, logs) and health: being written.

func newStartCmd(g *Global) *cobra.Command {
	return &cobra.Command{Use: "start NAME[@VERSION]", Short: "Start a plugin and keep it warm (not built yet)", Hidden: true,
		RunE: func(*cobra.Command, []string) error { return usageErrorf("start: not built yet") }}
}
func newStopCmd(g *Global) *cobra.Command {
	return &cobra.Command{Use: "stop", Hidden: true, RunE: func(*cobra.Command, []string) error { return usageErrorf("stop: not built yet") }}
}
func newPsCmd(g *Global) *cobra.Command {
	return &cobra.Command{Use: "ps", Hidden: true, RunE: func(*cobra.Command, []string) error { return usageErrorf("ps: not built yet") }}
}
func newLogsCmd(g *Global) *cobra.Command {
	return &cobra.Command{Use: "logs", Hidden: true, RunE: func(*cobra.Command, []string) error { return usageErrorf("logs: not built yet") }}
}
func newHealthCmd(g *Global) *cobra.Command {
	return &cobra.Command{Use: "health", Hidden: true, RunE: func(*cobra.Command, []string) error { return usageErrorf("health: not built yet") }}
}
