// Package cmd is plugctl's command line: one constructor per command binds
// flags into an options struct, a run function does the work through
// install/, index/, verify/, runtime/ and internal/runner (which runs
// installed plugins: attach else launch, keepers, health), and Main maps
// typed errors to the documented exit codes (exit.go), in one place.
//
// Nothing here builds store paths or talks to the network by itself.
package cmd
