package cmd_test

import (
	"context"
	"path/filepath"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/plugctl/plugctl/runtime"
	"github.com/plugctl/plugctl/store"
)

// stopStartedPlugins stops every plugin a script left started in its home:
// a script that fails never reaches its own "plugctl stop --all", and a
// started plugin outlives plugctl by design. TestScripts' Setup is meant to
// call env.Defer(func() { stopStartedPlugins(env) }).
func stopStartedPlugins(env *testscript.Env) {
	// Every home a script used: $WORK/home and the fresh ones beside it.
	runs, _ := filepath.Glob(filepath.Join(env.WorkDir, "*", "run"))
	for _, run := range runs {
		home := store.Paths{Home: filepath.Dir(run)}
		running, _ := runtime.Started(home)
		for _, s := range running {
			_, _ = runtime.Stop(context.Background(), home, s.Name, s.Version)
		}
	}
}
