package cmd

import (
	"github.com/spf13/cobra"
)

func newReinstallCmd(g *Global) *cobra.Command {
	o := &installOptions{g: g, Force: true}
	return &cobra.Command{
		Use:   "reinstall NAME@VERSION...",
		Short: "Fetch installed versions again from the source their receipts record",
		Long: `Fetch each named installed version again from the source its receipt records,
check it against the hash its receipt records (no index is consulted: an
index may list other bytes by now, and a version installed with --from or
synced from a lock has none), and replace the installed files in one step.
An active version stays active; a started one keeps running the old process
until it is stopped. A version that is not installed is exit 3. A gRPC
schema given with install --from --proto/--protoset is kept from its intact
copy in the store; without one the reinstall is exit 4 and changes nothing. The same as
plugctl install NAME@VERSION --force; plugctl doctor --reinstall runs it for
every version whose files changed.`,
		Example: "  plugctl reinstall greeter@1.2.0\n  plugctl doctor --reinstall",
		Args:    args(1, -1),
		RunE: func(cmd *cobra.Command, a []string) error {
			o.Queries = a
			return installRun(cmd.Context(), o)
		},
	}
}
