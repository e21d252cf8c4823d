package runtime

import "errors"

// ErrNoCompiler is returned for CallOptions.ProtoFiles by a build with the
// tag plugctl_lean, which leaves protocompile out: the plugctl front end,
// which hands calls given --proto to plugctl-core (protocompile's package
// initialisation costs every run about 0.5 ms; README.md, Two executables).
var ErrNoCompiler = errors.New("this build has no .proto compiler (built with -tags plugctl_lean)")
