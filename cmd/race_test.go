//go:build race

package cmd_test

// raceEnabled: the test binary is built with -race; TestFrontEnd builds the
// executables it runs the same way, so that they share the build cache.
const raceEnabled = true
