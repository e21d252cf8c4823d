//go:build !linux

package prestart

// fork: there is no /proc/self/fd to execute a verified descriptor through
// (Start has declined before it gets here) nor a Pdeathsig.
func (p *Proc) fork(execPath string) string { return "not on this platform" }
