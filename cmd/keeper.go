package cmd

import (
	"os"
	"os/exec"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"

	"github.com/plugctl/plugctl/runtime"
	"github.com/plugctl/plugctl/store"
)

// keeperCmd is the name of the hidden command that `start` runs detached
// beside a started plugin: runtime.Keep, which holds a session with the
// plugin so that each call makes one round trip on a unix socket instead of
// a new go-plugin session (docs/commands.md, "The keeper").
const keeperCmd = "__keep"

func newKeepCmd(g *Global) *cobra.Command {
	return &cobra.Command{
		Use:    keeperCmd + " NAME@VERSION",
		Short:  "Hold a session with a started plugin for calls (run by start)",
		Hidden: true,
		Args:   args(1, 1),
		RunE: func(cmd *cobra.Command, a []string) error {
			p, err := g.Paths()
			if err != nil {
				return err
			}
			name, version, err := store.ParseRef(a[0], true)
			if err != nil {
				return err
			}
			r, err := p.ReadReceipt(name, version)
			if err != nil {
				return err
			}
			// Its stderr is the plugin's log file (runner.StartKeeper), which
			// outlives any call: lines carry their time. What the plugin
			// prints through go-plugin's stdio stream (logged at Info), and
			// the logs of $broker helpers it launches, go there at any
			// --log-level.
			level := g.logLevel()
			if level == hclog.Off || level > hclog.Info {
				level = hclog.Info
			}
			logger := hclog.New(&hclog.LoggerOptions{Output: g.IO.ErrOut, Level: level})
			return runtime.Keep(cmd.Context(), p, r, runtime.Options{Home: p, Logger: logger})
		},
	}
}

// keeperCommand returns how runner starts the keeper of a started plugin
// of home p: this executable's hidden keeper command, at log level.
func keeperCommand(p store.Paths, level hclog.Level) func(st *runtime.StartedPlugin) (*exec.Cmd, error) {
	return func(st *runtime.StartedPlugin) (*exec.Cmd, error) {
		exe, err := os.Executable()
		if err != nil {
			return nil, err
		}
		c := exec.Command(exe, "--home", p.Home, keeperCmd, st.Name+"@"+st.Version, "--log-level", level.String())
		c.Args[0] = "plugctl"
		return c, nil
	}
}
