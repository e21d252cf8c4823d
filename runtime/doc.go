// Package runtime launches installed go-plugin plugins and calls their
// methods generically: the part of plugctl that `call`, `describe` and
// `health` stand on (through internal/runner, which picks attach or launch
// for them), and the host API an application embeds.
//
// Launch refuses to run anything from a tree that other users can change
// (*UnsafePathError, as ssh's StrictModes), verifies the executable against
// its receipt's SHA-256 through an open descriptor right before starting it
// (a changed binary never runs: *verify.MismatchError) and, for ELF
// binaries on Linux, executes that very descriptor (/proc/self/fd/N), so a
// file swapped in after the check never runs; then it starts it through
// go-plugin with the handshake the Spec describes (magic
// cookie, the offered protocol versions, grpc and/or netrpc). The process is
// exec'd directly, never through a shell, with stdin on /dev/null, in its own
// process group, with its unix socket in the home's private run/ directory;
// its logs (at their level), stderr and synced stdio go to Options.Logger
// under the plugin's name, never to our stdout, and the first "panic:" line
// it prints is kept for errors even without a logger. ctx bounds start,
// handshake and the plugin's life; Close, an error, or ctx ending kills the
// whole group, within bounded waits. The plugin's environment is clean:
// CleanEnv (PATH, HOME, TMPDIR, LANG, LC_*, TZ), what Options.AllowEnv and
// Options.Env add, and go-plugin's own variables; Options.InheritEnv passes
// everything instead.
//
// gRPC plugins are called through gRPC server reflection (which go-plugin
// registers in every Go plugin), or, for plugins without it, a schema
// compiled from .proto files at run time (protocompile) or read from a
// protoset. Requests are built from JSON with dynamicpb and protojson;
// results are protojson's standard mapping, one compact JSON document per
// message. Unary and server-streaming methods are supported. net/rpc plugins
// are called through runtime/internal/rpcwire (gob, no schema).
//
// mTLS: with "auto" (the default) there is no TLS on the unix socket, whose
// 0700 directory already keeps other users out; a plugin that listens on
// plain TCP is used with a warning. With "true" plugctl does what go-plugin's
// AutoMTLS does, except that the host's certificate (ECDSA P-256) is made
// once per home (run/host-cert.pem, 0600) and reused: it is sent in
// PLUGIN_CLIENT_CERT and the plugin's certificate is read from the sixth
// field of the handshake line.
//
// Errors are typed and carry no exit codes; cmd/ maps them:
//
//	*verify.MismatchError                  4  (integrity)
//	*UnsafePathError                       4  (store writable by others)
//	ErrMethodNotFound (*NotFoundError)     3  (unknown method or service; gRPC Unimplemented)
//	ErrAmbiguousMethod, *ArgError          2  (usage: bad JSON argument or metadata key;
//	                                          ErrGobType: a net/rpc argument of the wrong Go type)
//	*PluginError                           5  (would not start, handshake, crash, timeout, Unavailable)
//	*MethodError                           6  (any other gRPC status; a net/rpc method's error)
//	ErrUnsupported, ErrNoReflection, other 1
//
// Warm plugins: Start launches a plugin detached (its own session, stdout to
// run/NAME@VERSION.out, stderr to run/NAME@VERSION.log), checked, executed
// and given its environment exactly as by Launch, and as strict about the
// handshake as go-plugin (the first line on stdout); it records how to
// reattach in run/NAME@VERSION.json, negotiated protocol version included.
// Attach reconnects to it: that Plugin's Close only drops the connection
// (never Kill, Control.Quit or GRPCController.Shutdown). Attach connects
// without go-plugin's client, so it opens neither the plugin's broker nor
// its stdio stream: go-plugin closes a plugin's broker for good when a host
// that opened it leaves, and only the keeper (Keep) opens it. Stop ends a
// started plugin gracefully (SIGTERM when it has no controller), then by
// force; Started and CleanStale find live and dead ones.
//
// Broker callbacks: a request field given as {"$broker": "NAME[@VERSION]"}
// gets a broker ID on which the installed gRPC plugin it names is served
// (see BrokerError, ErrBrokerClosed), on a Plugin from Launch or a keeper.
//
// Manager is the embeddable host: Get
// launches a plugin's active version on first use and reuses it, probes it
// on an interval, relaunches it with backoff after a crash, follows a
// change of the active version (draining the old process), and
// Shutdown(ctx) (or Close) stops what it launched; Call is untyped,
// Dispense gives a go-plugin client with the host's own plugin set.
//
// What reflection discovers is cached per installed version, in the version
// directory (plugins/NAME/VERSION/.reflection.cache, keyed by the
// executable's SHA-256 and deleted with the version), so that a repeated
// call, warm or cold, does not pay reflection's round trips; a cache that
// lacks the method asked for, or does not parse, is ignored and rewritten,
// and one that cannot be written is skipped. --proto, --protoset and the
// index's schema take precedence over it.
//
// The package does not resolve names or versions (store/ and cmd/ do).
package runtime
