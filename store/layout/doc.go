// Package layout is the small, dependency-free part of a plugctl home's
// layout: where the home is, a plugin's current pointer, the receipt, the
// files of run/ (run records, logs, locks, keeper sockets), the rule for
// names and versions, and a bounded read of the store's small files. store
// and runtime build on it, so there is one definition of each.
//
// Paths are joined by hand: every element is clean (an absolute, cleaned
// home and validated names), so the result is what filepath.Join would
// give.
package layout
