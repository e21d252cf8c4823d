package index

import "github.com/plugctl/plugctl/store"

// The configuration (config.yaml) lives in store, so that commands that only
// run plugins read it without linking the index code; these names keep
// index's API.
type (
	// Config is $PLUGCTL_HOME/config.yaml: the configured indexes, in the
	// order that decides which one wins when several offer a name.
	Config = store.Config
	// PluginSettings are one plugin's settings in config.yaml.
	PluginSettings = store.PluginSettings
	// Source is one configured index.
	Source = store.Source
)

// LoadConfig reads config.yaml; a missing file is an empty configuration.
func LoadConfig(p store.Paths) (*Config, error) { return store.LoadConfig(p) }
