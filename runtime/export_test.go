package runtime

import (
	"os"
	"path/filepath"
	"strconv"
)

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

// allPids lists the processes of /proc (none where there is no /proc).
func allPids() []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			out = append(out, pid)
		}
	}
	return out
}

func readlinkExe(pid int) (string, error) { return os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe") }
