// Package publish is the publisher's side of plugctl: it adds artifacts to
// an index file (Publish, on index.Publish) and pushes them to a registry
// first when asked, signs index files with a minisign secret key (Signer,
// SignIndex), checks an index file with every artifact fetched and hashed
// (Lint), pushes an index to a registry (PushIndex), copies configured
// indexes and their artifacts into a directory or a registry for
// air-gapped use (Mirror, MirrorOCI, MirrorIndexes), and serves a
// directory over HTTP (Listen, Server.Serve).
//
// It never touches plugins/: installing is install/'s. It hashes an
// artifact as install would lay it out (install.ArtifactHashes) and
// downloads through fetch/. Passwords come from the caller (PasswordFunc):
// prompting is the command line's. Options that do not go together are
// errors wrapping index.ErrUsage, and each refusal has its own typed error
// (NeedsKeyError, ErrNotDirectory), so that cmd/ picks the exit code and
// the hint.
package publish
