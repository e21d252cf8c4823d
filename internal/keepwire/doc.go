// Package keepwire is the protocol between a keeper (runtime.Keep), which
// holds a session with a started plugin, and the commands that call the
// plugin through it (runtime's StartedPlugin.CallKeeper).
//
// One request per connection on a unix socket: the caller writes a Request
// as one line of JSON; the keeper answers with one Reply per line, a
// document per result, then one with End (and the method's kind) or Err,
// or a single Declined reply when it will not serve the call (nothing ran:
// the caller attaches to the plugin itself). A Request with Stream is
// followed by its request messages, one Message line each, then a Message
// with End; the caller writes them while it reads the replies, so a
// bidirectional call streams both ways at once. The caller hanging up
// cancels the call.
//
// Dial never blocks on a keeper that stopped accepting, so that asking
// whether a keeper answers (plugctl ps, start) cannot hang. It knows nothing
// of plugins or errors' Go types; runtime maps Error back to those.
package keepwire
