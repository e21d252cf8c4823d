// Package layout is the part of a plugctl home's layout that plugctl's fast
// path (internal/fastpath) reads: where the home is, a plugin's current
// pointer, run/ and the keeper sockets in it, the rule for names, and a
// bounded read of the store's small files. store builds on it, so there is
// one definition of each.
//
// It imports only standard packages that Go initialises early (no
// path/filepath, no net): the fast path runs while the program initialises,
// before grpc and protobuf do, and it can only use what is initialised by
// then (see internal/fastpath). Paths are joined by hand for that reason;
// every element is clean (an absolute, cleaned home and validated names), so
// the result is what filepath.Join would give.
package layout
