// Package fastpath makes plugctl's commonest warm call,
//
//	plugctl [--home DIR] call NAME[@VERSION] METHOD [ARGS]
//
// of a started plugin through its keeper while the program is still
// initialising: before grpc, protobuf, go-plugin, net/http and crypto/tls
// run their package initialisation, which with the page faults they bring
// is about 2.5 ms of the front end's 3.3 ms start-up, half a warm call.
//
// Its init function runs early because Go initialises packages in the order
// of their import paths as far as their imports allow (the language
// specification's "Package initialization"): this package's path sorts
// before golang.org and google.golang.org, and it imports only standard
// packages that are initialised before those (no net, no path/filepath;
// internal/keepwire and store/layout obey the same rule). TestFrontEnd
// checks that order in the built binary.
//
// It serves nothing it cannot serve exactly as the call command would. Any
// other flag, ARGS from stdin or not valid JSON, a relative home, a
// PLUGCTL_ variable set that the command checks (callIgnores), no keeper,
// or a keeper that declines (the plugin exited, or the receipt names another
// binary): it returns without having sent anything, and the command runs
// as usual. When the call ran and succeeded, it prints the result as call
// does and exits 0. When the call ran and failed, or was interrupted, it
// keeps the outcome for the call command to report (Outcome), so that
// errors, hints and exit codes stay in one place and the call is never made
// twice.
//
// When no keeper answers, the call is a cold one: the fast path then
// starts the plugin's process (internal/prestart), whose start-up overlaps
// the rest of plugctl's, and runtime.Launch adopts it.
//
// PLUGCTL_FASTPATH=off turns both off; PLUGCTL_FASTPATH=trace says on
// stderr why it did not serve a call, and what became of a process it
// started.
package fastpath
