package runtime

import (
	"os"
	"path/filepath"
	"strconv"

	"github.com/plugctl/plugctl/store"
)

// NewExampleHome makes a home in a temporary directory with the example
// plugins installed as plugctl install would (greeter 1.0.0 active and
// 2.0.0, kv 1.0.0, hello 1.0.0), for the examples of package runtime_test.
// remove deletes it.
func NewExampleHome() (home store.Paths, remove func(), err error) {
	dir, err := examplePlugins()
	if err != nil {
		return store.Paths{}, nil, err
	}
	tmp, err := os.MkdirTemp("", "runtime-example-home")
	if err != nil {
		return store.Paths{}, nil, err
	}
	home = store.Paths{Home: tmp}
	if err := installExamples(home, dir); err != nil {
		os.RemoveAll(tmp)
		return store.Paths{}, nil, err
	}
	return home, func() { os.RemoveAll(tmp) }, nil
}

// installExamples installs the example plugins built in dir into home:
// greeter 1.0.0 (active) and 2.0.0, kv 1.0.0, and hello 1.0.0 (go-plugin's
// net/rpc Greeter).
func installExamples(home store.Paths, dir string) error {
	for _, in := range []struct {
		bin, name, version string
		proto              store.Protocol
		active             bool
	}{
		{"greeter", "greeter", "1.0.0", store.Protocol{}, true},
		{"greeter-v2", "greeter", "2.0.0", store.Protocol{}, false},
		{"kv", "kv", "1.0.0", store.Protocol{Kind: store.KindGRPC}, true},
		{"greeter-netrpc", "hello", "1.0.0", store.Protocol{Kind: store.KindNetRPC, CookieKey: "BASIC_PLUGIN", CookieValue: "hello", Dispense: "greeter"}, true},
	} {
		if err := installFake(home, filepath.Join(dir, in.bin), in.name, in.version, in.proto, in.active); err != nil {
			return err
		}
	}
	return nil
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
