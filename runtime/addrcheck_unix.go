//go:build unix

package runtime

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
)

// A plugin's handshake line names the address plugctl then dials, and
// plugctl would talk to whatever listens there, and ask it to shut down
// once done: a plugin naming another plugin's socket, or another process's
// TCP port, would have plugctl call and stop that one. So before anything
// dials it, the address must be the plugin's own (checkHandshakeAddr): a
// unix socket only inside the directory made for this launch (no one
// else's socket can be there), and a socket that the plugin's own process
// group listens on; a TCP port only if a process of the plugin's process
// group listens on it. Where the system cannot tell who listens (no /proc),
// a TCP address is accepted with a warning.

// errForeignAddr is wrapped when a plugin's handshake names an address that
// is not its own.
var errForeignAddr = errors.New("handshake refused: the plugin named an address that is not its own")

// checkHandshakeAddr checks that addr, from the handshake of the plugin
// whose process group is pgid, is the plugin's own; socketDir is the
// directory made for this launch's unix socket. warn is set when the check
// could not be made.
func checkHandshakeAddr(addr net.Addr, socketDir string, pgid int) (warn string, err error) {
	switch addr.Network() {
	case "unix":
		path := filepath.Clean(addr.String())
		if socketDir == "" || realPath(filepath.Dir(path)) != realPath(socketDir) {
			return "", fmt.Errorf("%w: unix socket %s is outside %s, the directory made for it", errForeignAddr, path, socketDir)
		}
		fi, err := os.Lstat(path)
		if err != nil || fi.Mode().Type() != fs.ModeSocket {
			return "", fmt.Errorf("%w: %s is not a unix socket", errForeignAddr, path)
		}
		if !canListGroups {
			return "", nil // the private directory is the proof
		}
		if !groupListensUnix(pgid, path) {
			return "", fmt.Errorf("%w: no process of the plugin listens on %s", errForeignAddr, path)
		}
		return "", nil
	case "tcp":
		ta, ok := addr.(*net.TCPAddr)
		if !ok {
			return "", fmt.Errorf("%w: %s", errForeignAddr, addr)
		}
		if !canListGroups {
			return fmt.Sprintf("cannot tell which process listens on %s here; trusting the plugin's handshake", addr), nil
		}
		if !groupListensTCP(pgid, ta) {
			return "", fmt.Errorf("%w: no process of the plugin listens on TCP %s", errForeignAddr, addr)
		}
		return "", nil
	}
	return "", fmt.Errorf("%w: network %q", errForeignAddr, addr.Network())
}
