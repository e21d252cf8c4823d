package cmd

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/plugctl/plugctl/profile"
)

func newProfilesCmd(g *Global) *cobra.Command {
	return &cobra.Command{
		Use:   "profiles",
		Short: "List the plugin ecosystems install --profile knows, with their handshakes",
		Long: `A profile is the handshake, environment and call defaults that an ecosystem's
host (Terraform, Grafana, Vault, Nomad) uses with its plugins, as read in the
ecosystem's SDK source (the files each profile names). install --from
--profile NAME and an index's protocol: {profile: NAME} use them; flags and
index fields set explicitly win.`,
		Example: `  plugctl profiles
  plugctl -o json profiles`,
		Args: args(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			all := profile.All()
			if g.JSON() {
				return g.PrintJSON(all)
			}
			for i, p := range all {
				if i > 0 {
					g.Printf("\n")
				}
				pr := p.Protocol
				g.Printf("%s: %s\n", p.Name, p.Description)
				g.Printf("  kind %s, version %s, dispense %s, mtls %s\n", pr.Kind, pr.Versions, pr.Dispense, orDefault(string(pr.MTLS), "auto"))
				g.Printf("  cookie %s=%s\n", pr.CookieKey, pr.CookieValue)
				if len(pr.Env) > 0 {
					g.Printf("  env %s\n", strings.Join(pr.Env, " "))
				}
				if len(pr.Metadata) > 0 {
					g.Printf("  metadata %s\n", strings.Join(pr.Metadata, ", "))
				}
				if pr.Decode {
					g.Printf("  decode on\n")
				}
				for _, s := range p.Sources {
					g.Printf("  from %s\n", s)
				}
			}
			return nil
		},
	}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
