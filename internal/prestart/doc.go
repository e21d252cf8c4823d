// Package prestart starts the plugin of a cold call while plugctl is still
// initialising, so that the plugin's own start-up (a Go plugin takes 4 ms
// to reach its handshake) overlaps plugctl's (package initialisation,
// reading the store, checking the executable: another 3 to 4 ms before
// go-plugin would start the process).
//
// The fast path (internal/fastpath) calls Start from its init function for
// a command line it understands, plugctl [--home DIR] call NAME[@VERSION]
// METHOD [ARGS], when no keeper serves the call. Start runs the plugin only
// after making, with only early-initialised packages, every check that
// runtime makes before it runs one, and then some:
//
//   - StrictModes: the executable, its identity record and every directory
//     from the executable's up to the home are owned by the user (or root)
//     and writable by nobody else. Stricter than runtime: a symbolic link
//     at or below the home, or a group-writable path, means no prestart.
//   - The executable, opened once, is the file the identity record names
//     with the receipt's SHA-256 (internal/exerecord). Stricter: without a
//     matching record (the hash would have to be computed) no prestart.
//   - That open descriptor is what is executed (/proc/self/fd/N, an ELF
//     file only), so a file swapped in at the path never runs.
//
// It does not prestart when the call would not launch a process exactly as
// Start would: the plugin is started (plugctl start; a call attaches),
// config.yaml may hold plugin settings (it is YAML, which cannot be read
// that early: any mention of "plugins" in any case, an escape, a tag, or a
// byte that is not ASCII), the receipt asks for mTLS (the host's
// certificate), or SIGINT is ignored (the plugin would inherit that). The
// environment is built as runtime builds it for a call without --env, and
// go-plugin's variables as go-plugin's client sets them.
//
// runtime.Launch then takes the process (Take) and adopts it only if it is
// what Launch would have started itself: the same verified file, argv and
// environment (Matches). Otherwise, and when the command never launches,
// the process is killed and reaped (Proc.Kill, Discard), and its socket
// directory removed. So a command that fails before it launches (a
// config.yaml that does not parse, say) has run, for nothing, a plugin it
// would have run had it not failed: never one a launch would refuse. The process is started with Pdeathsig from the main
// thread, so a plugctl killed outright takes it along.
package prestart
