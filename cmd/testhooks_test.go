//go:build !plugctl_lean

package cmd

// The test binary, which testscript also runs as plugctl, honours test-only
// hooks (PLUGCTL_TEST_PAUSE_AT, and EnvTestPluginLog in
// pluginlog_test.go); a plugctl built for users never does.
func init() { testHooks = true }
