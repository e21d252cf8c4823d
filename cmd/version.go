package cmd

import (
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Build stamps, set by make build with -ldflags "-X …": a build without
// them takes what debug.ReadBuildInfo knows (the module version, and the
// VCS revision go build records in a checkout).
var (
	buildVersion string
	buildCommit  string
)

// versionInfo is `plugctl version -o json`.
type versionInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit,omitempty"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// readVersion says which plugctl this is: the -ldflags stamps, else the
// build information Go embeds; "(devel)" when neither names a version, and
// no commit when nothing records one.
func readVersion() versionInfo {
	v := versionInfo{Version: buildVersion, Commit: buildCommit, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v.Version == "" && bi.Main.Version != "" {
			v.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && v.Commit == "" {
				v.Commit = s.Value
			}
		}
		if bi.GoVersion != "" {
			v.GoVersion = bi.GoVersion
		}
	}
	if v.Version == "" {
		v.Version = "(devel)"
	}
	return v
}

// String is the text of plugctl version and --version.
func (v versionInfo) String() string {
	s := "plugctl " + v.Version
	if v.Commit != "" {
		s += " (commit " + v.Commit + ")"
	}
	return s + ", " + v.GoVersion + ", " + v.Platform
}

func newVersionCmd(g *Global) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print plugctl's version, commit, Go version and platform",
		Long: `Print plugctl's version, the commit it was built from (when the build recorded
one), the Go version that built it and the platform it runs on; -o json gives
the fields version, commit, goVersion and platform. A build without version
information says (devel). plugctl --version prints the same line.`,
		Args: args(0, 0),
		RunE: func(cmd *cobra.Command, a []string) error {
			v := readVersion()
			if g.JSON() {
				return g.PrintJSON(v)
			}
			_, err := g.IO.Out.Write([]byte(v.String() + "\n"))
			return err
		},
	}
}
