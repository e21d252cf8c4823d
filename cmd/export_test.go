package cmd

// EnableTestHooks makes this test binary, which testscript also runs as
// plugctl, honour test-only hooks (PLUGCTL_TEST_PAUSE_AT, and
// EnvTestPluginLog in pluginlog_test.go); a plugctl built
// for users never does. TestMain calls it before anything runs.
func EnableTestHooks() {
	testHooks = true
	enablePluginLog()
}
