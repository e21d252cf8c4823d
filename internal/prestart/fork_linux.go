package prestart

import (
	"os"
	"syscall"
)

// fork starts the process as runtime's procRunner does: the executable
// exec'd through execPath with argv[0] the store path, stdin on
// /dev/null, stdout and stderr on pipes, in its own process group, killed
// when plugctl dies (Pdeathsig; this runs on the main thread, to which Go
// keeps the main goroutine locked during package initialisation).
func (p *Proc) fork(execPath string) string {
	null, err := syscall.Open(os.DevNull, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return "open " + os.DevNull + ": " + err.Error()
	}
	defer syscall.Close(null)
	var out, errp [2]int
	if err := syscall.Pipe2(out[:], syscall.O_CLOEXEC); err != nil {
		return "pipe: " + err.Error()
	}
	if err := syscall.Pipe2(errp[:], syscall.O_CLOEXEC); err != nil {
		syscall.Close(out[0])
		syscall.Close(out[1])
		return "pipe: " + err.Error()
	}
	pid, err := syscall.ForkExec(execPath, []string{p.Exe}, &syscall.ProcAttr{
		Env:   p.Env,
		Files: []uintptr{uintptr(null), uintptr(out[1]), uintptr(errp[1])},
		Sys:   &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL},
	})
	syscall.Close(out[1])
	syscall.Close(errp[1])
	if err != nil {
		syscall.Close(out[0])
		syscall.Close(errp[0])
		return "start: " + err.Error()
	}
	p.Pid, p.stdout, p.stderr = pid, out[0], errp[0]
	return ""
}
