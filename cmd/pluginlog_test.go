package cmd

import (
	"io"
	"os"
)

// EnvTestPluginLog names a file that the test binary, run as plugctl by
// the scripts, appends its plugins' output to (what -v would show), so
// that a failed script can show it. (In both builds: the scripts run
// against either.) Not PLUGCTL_-prefixed: plugctl's fast path steps aside
// for any PLUGCTL_ setting it does not know, and the scripts must see
// plugctl as users run it.
const EnvTestPluginLog = "PLUGCTLTEST_PLUGIN_LOG"

func init() {
	testPluginLog = func() io.Writer {
		path := os.Getenv(EnvTestPluginLog)
		if path == "" {
			return nil
		}
		// Left open: plugctl's own exit closes it.
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return nil
		}
		return f
	}
}
