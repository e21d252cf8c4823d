// Package verify hashes what plugctl installs and launches: SHA-256 of
// files, the dirhash "h1:" tree hash of an installed pkg/ directory, and the
// launch-time check of an executable against its receipt, made cheap by a
// record of the file's identity at its last full hash.
//
// It does not decide what to trust: install/ and runtime/ compare what this
// package computes with what an index or receipt says, and cmd/ turns a
// *MismatchError into exit code 4.
package verify
