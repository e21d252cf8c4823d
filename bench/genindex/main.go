// Command genindex writes a large index for benchmarks: one plugin with N
// versions, each for four platforms, pointing at one real artifact.
//
//	genindex -versions 10000 -artifact FILE -out DIR/index.yaml
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/plugctl/plugctl/index"
	"github.com/plugctl/plugctl/verify"
)

func main() {
	n := flag.Int("versions", 10000, "versions")
	artifact := flag.String("artifact", "", "artifact file (hashed; URLs name its base name)")
	out := flag.String("out", "index.yaml", "index file to write (.json for JSON)")
	flag.Parse()
	sum, err := verify.FileSHA256(*artifact)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	idx := &index.Index{APIVersion: index.APIVersion, Plugins: map[string]index.Plugin{}}
	for i := 0; i < *n; i++ {
		v := fmt.Sprintf("%d.%d.%d", i/1000, (i/10)%100, i%10)
		for _, plat := range []string{"linux/amd64", "linux/arm64", "darwin/amd64", "darwin/arm64"} {
			if err := idx.Add(index.Publication{Name: "big", Version: v, Platform: plat, URL: filepath.Base(*artifact), SHA256: sum}, "a plugin with many versions", index.Plugin{}.Protocol); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
		}
	}
	if err := index.WriteFile(*out, idx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
