// Package runner runs installed plugins for plugctl's commands (call,
// call --batch, describe, health, start, stop, remove): it turns an
// installed version (its store receipt), a command's run flags (Flags:
// --mtls, --env, --proto, --protoset) and config.yaml's plugins.NAME.env
// into runtime.Options, and those into a running *runtime.Plugin by the one
// path every command takes: attach to the started process of that version
// (plugctl start) when there is one, else launch a fresh one. A call that
// needs no schema or process of its own goes through the started version's
// keeper instead, when it has one.
//
// It also starts a started plugin's keeper (the command that runs it is
// the caller's, Runner.KeeperCmd), checks plugins' health all at once,
// stops the started versions of a plugin before it is removed, and finds
// the logs of started versions (Logs) and copies or follows them, filtered
// by level, to the writer the command gives (CopyLog, FollowLog).
//
// Errors are typed and carry no exit codes or hints: *FlagError (a bad
// flag value or config.yaml entry), *RunningError (a version runs and
// force was not given), store's and runtime's own. cmd/ maps them. What
// -v shows (reattached, launched fresh, through a keeper) goes to
// Runner.Remark.
//
// The package resolves NAME[@VERSION] through store/ and launches through
// runtime/; it installs nothing and writes no output of its own (a log it
// copies is the plugin's).
package runner
