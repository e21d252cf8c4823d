package cmd

import "github.com/spf13/cobra"

func newDoctorCmd(g *Global) *cobra.Command {
	return &cobra.Command{Use: "doctor", Hidden: true, RunE: func(*cobra.Command, []string) error { return usageErrorf("doctor: not built yet") }}
}
