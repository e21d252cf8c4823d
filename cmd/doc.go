// Package cmd is plugctl's command line: one constructor per command binds
// flags into an options struct, a run function taking a context and the
// options makes one call into install/, index/, publish/, verify/, runtime/
// or internal/runner (which runs installed plugins: attach else launch,
// keepers, health) and prints what it returns, and Main maps typed errors
// to the documented exit codes (exit.go), in one place. What is left here
// is flags, output, hints, exit codes and the terminal (the password
// prompt, progress bars).
//
// Nothing here builds store paths or talks to the network by itself: no
// listener, no client, no download but through the packages.
package cmd
