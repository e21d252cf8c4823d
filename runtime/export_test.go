package runtime

import "path/filepath"

// PluginBinary is the path of an example plugin of ../testdata/plugins
// (greeter, kv, greeter-netrpc), built once for the tests: the binary an
// example installs, where a host would have its own.
func PluginBinary(name string) (string, error) {
	dir, err := examplePlugins()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, name), nil
}
