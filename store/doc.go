// Package store is the layout of a plugctl home ($PLUGCTL_HOME, by default
// ~/.plugins): one Paths value names every file and directory in it, and the
// package reads and writes the two records that live there, the per-version
// receipt and the per-plugin active-version pointer, and config.yaml (read
// by LoadConfig, changed by AddIndex and RemoveIndex under the config lock).
// It holds the one parser of NAME[@VERSION] (ParseRef, SplitAt), the one
// rule for plugin names and version directories, the names of the files in
// run/ (run records, logs, locks, keeper sockets), the one unix-socket path
// limit (SocketPathFits), and the launch protocol a receipt records
// (Protocol: its defaults, from internal/handshake, its validation, what
// makes two differ).
//
// It does not fetch, verify or launch anything: install/ builds versions and
// commits them here, verify/ hashes what a receipt describes, runtime/
// launches what a receipt names. A version directory without a readable
// receipt is not installed, whatever else it holds.
package store
