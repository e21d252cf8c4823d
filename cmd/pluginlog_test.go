package cmd

import (
	"io"
	"os"
)

// EnvTestPluginLog names a file that the test binary, run as plugctl by
// the scripts, appends its plugins' output to (what -v would show), so
// that a failed script can show it. Not PLUGCTL_-prefixed, so that no
// setting of plugctl's own is ever mistaken for it.
const EnvTestPluginLog = "PLUGCTLTEST_PLUGIN_LOG"

// enablePluginLog is called by EnableTestHooks.
func enablePluginLog() {
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
