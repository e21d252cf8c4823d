// Package install turns a resolved artifact into an installed version: it
// fetches the artifact into a fresh staging directory under tmp/, checks
// its SHA-256 before anything else reads it, unpacks archives itself,
// hashes the installed tree, writes the receipt last, and makes the whole
// version visible with one rename. It also activates, removes and
// re-verifies installed versions.
//
// It does not choose versions (index/ resolves NAME@CONSTRAINT) and does not
// launch anything (runtime/).
package install
