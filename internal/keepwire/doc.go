// Package keepwire is the protocol between a keeper (runtime.Keep), which
// holds a session with a started plugin, and the commands that call the
// plugin through it (runtime's StartedPlugin.CallKeeper).
//
// One request per connection on a unix socket: the caller writes a Request
// as one line of JSON; the keeper answers with one Reply per line, a
// document per result, then one with End or Err, or a single Declined reply
// when it will not serve the call (nothing ran: the caller attaches to the
// plugin itself). The caller hanging up cancels the call.
//
// Dial never blocks on a keeper that stopped accepting, so that asking
// whether a keeper answers (plugctl ps, start) cannot hang. It knows nothing
// of plugins or errors' Go types; runtime maps Error back to those.
package keepwire
