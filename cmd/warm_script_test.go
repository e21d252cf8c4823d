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
	home := store.Paths{Home: filepath.Join(env.WorkDir, "home")}
	running, _ := runtime.Started(home)
	for _, s := range running {
		_, _ = runtime.Stop(context.Background(), home, s.Name, s.Version)
	}
}
