package store

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"sigs.k8s.io/yaml"
)

// Config is $PLUGCTL_HOME/config.yaml: the configured indexes, in the order
// that decides which one wins when several offer a name.
type Config struct {
	Indexes []Source `json:"indexes"`
	// Plugins holds settings per plugin name.
	Plugins map[string]PluginSettings `json:"plugins,omitempty"`
}

// PluginSettings are one plugin's settings in config.yaml.
type PluginSettings struct {
	// Env lists what the plugin gets of plugctl's environment besides the
	// clean default: NAME (passed from plugctl's environment when set; a
	// trailing * matches a prefix) or NAME=VALUE, as with --env.
	Env []string `json:"env,omitempty"`
}

// Source is one configured index.
type Source struct {
	Name    string   `json:"name"`
	Address string   `json:"source"`
	Keys    []string `json:"keys,omitempty"` // minisign public keys trusted for this index
}

// LoadConfig reads config.yaml; a missing file is an empty configuration.
func LoadConfig(p Paths) (*Config, error) {
	// Bounded and non-blocking, like the store's other files: every command
	// reads it, and a FIFO in its place must not hang them all.
	b, err := ReadFileMax(p.Config(), MaxRecordBytes)
	if errors.Is(err, fs.ErrNotExist) {
		return &Config{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return parseConfig(p, b)
}

// parseConfig is the one reading of config.yaml's content b: LoadConfig's,
// and editConfig's check that a file it edits is one LoadConfig reads.
func parseConfig(p Paths, b []byte) (*Config, error) {
	var c Config
	if err := yaml.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("read config %s: %s", p.Config(), YAMLError(err))
	}
	return &c, nil
}

// Lookup returns the configured index called name.
func (c *Config) Lookup(name string) (Source, bool) {
	for _, s := range c.Indexes {
		if s.Name == name {
			return s, true
		}
	}
	return Source{}, false
}

// Changes go through AddIndex and RemoveIndex (configedit.go), which lock
// the file and keep its comments.

// YAMLError is an error of sigs.k8s.io/yaml on one line, without the
// layers of prefixes its YAML-to-JSON conversion adds.
func YAMLError(err error) string {
	s := err.Error()
	s = strings.ReplaceAll(s, "error converting YAML to JSON: ", "")
	s = strings.ReplaceAll(s, "error unmarshaling JSON: ", "")
	s = strings.ReplaceAll(s, "while decoding JSON: ", "")
	return strings.Join(strings.Fields(s), " ")
}
