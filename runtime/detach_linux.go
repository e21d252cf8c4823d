package runtime

import (
	"bytes"
	"encoding/hex"
	"net"
	"os"
	"strconv"
	"strings"
)

// procStat is what /proc/PID/stat says of a process that plugctl needs.
type procStat struct {
	state   byte
	pgrp    int
	session int
	start   uint64 // clock ticks since boot (field 22)
}

func readProcStat(pid int) (procStat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, false
	}
	// The command name (field 2) may hold spaces and parentheses.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return procStat{}, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 || f[0] == "" {
		return procStat{}, false
	}
	var ps procStat
	ps.state = f[0][0]
	ps.pgrp, _ = strconv.Atoi(f[2])
	ps.session, _ = strconv.Atoi(f[3])
	ps.start, _ = strconv.ParseUint(f[19], 10, 64)
	return ps, true
}

// processStart returns the start time of pid (clock ticks since boot, field
// 22 of /proc/PID/stat) and whether it is a zombie. ok is false when the
// process does not exist.
func processStart(pid int) (start uint64, zombie, ok bool) {
	ps, ok := readProcStat(pid)
	if !ok {
		return 0, false, false
	}
	return ps.start, ps.state == 'Z' || ps.state == 'X', true
}

// canListGroups: groupMembers can tell which processes are in a group.
const canListGroups = true

// groupMembers lists the live (not zombie) processes of process group pgid
// in session sid (sid 0: any session).
func groupMembers(pgid, sid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		ps, ok := readProcStat(pid)
		if !ok || ps.pgrp != pgid || (sid != 0 && ps.session != sid) || ps.state == 'Z' || ps.state == 'X' {
			continue
		}
		out = append(out, pid)
	}
	return out
}

// envProcs lists the processes of this user whose environment holds the
// entry kv (NAME=VALUE).
func envProcs(kv string) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	want := []byte(kv)
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil {
			continue
		}
		for _, v := range bytes.Split(b, []byte{0}) {
			if bytes.Equal(v, want) {
				if ps, ok := readProcStat(pid); ok && ps.state != 'Z' && ps.state != 'X' {
					out = append(out, pid)
				}
				break
			}
		}
	}
	return out
}

// groupHoldsSocket reports whether a process of process group pgid holds
// open one of the sockets whose inodes are in want. The group's leader
// (pid pgid: the plugin itself) is looked at first, as it is the one that
// listens almost always; only when it does not hold one is every process
// under /proc read to find the rest of the group.
func groupHoldsSocket(pgid int, want map[string]bool) bool {
	if len(want) == 0 {
		return false
	}
	if ps, ok := readProcStat(pgid); ok && ps.pgrp == pgid && ps.state != 'Z' && ps.state != 'X' && holdsSocket(pgid, want) {
		return true
	}
	for _, pid := range groupMembers(pgid, 0) {
		if pid != pgid && holdsSocket(pid, want) {
			return true
		}
	}
	return false
}

// holdsSocket reports whether process pid holds open one of the sockets
// whose inodes are in want.
func holdsSocket(pid int, want map[string]bool) bool {
	dir := "/proc/" + strconv.Itoa(pid) + "/fd"
	fds, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, fd := range fds {
		l, err := os.Readlink(dir + "/" + fd.Name())
		if err != nil {
			continue
		}
		if ino, ok := strings.CutPrefix(l, "socket:["); ok && want[strings.TrimSuffix(ino, "]")] {
			return true
		}
	}
	return false
}

// groupListensUnix: a process of group pgid listens on a unix socket bound
// at path (by that name: a hard link to another process's socket does not
// count, /proc/net/unix names the path it was bound to).
func groupListensUnix(pgid int, path string) bool {
	b, err := os.ReadFile("/proc/net/unix")
	if err != nil {
		// No /proc to tell: the private directory made for this launch
		// is the proof, as where /proc does not exist.
		return true
	}
	listening := map[string]bool{}
	// Num RefCount Protocol Flags Type St Inode Path
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 8 || f[7] != path {
			continue
		}
		flags, _ := strconv.ParseUint(f[3], 16, 32)
		const acceptCon = 0x10000 // __SO_ACCEPTCON: listening
		if flags&acceptCon != 0 {
			listening[f[6]] = true
		}
	}
	return groupHoldsSocket(pgid, listening)
}

// groupListensTCP: a process of group pgid listens on addr's port, at its
// IP or at a wildcard address.
func groupListensTCP(pgid int, addr *net.TCPAddr) bool {
	listening := map[string]bool{}
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 10 || f[3] != "0A" { // TCP_LISTEN
				continue
			}
			ip, port, ok := parseProcNetAddr(f[1])
			if !ok || port != addr.Port || !(ip.Equal(addr.IP) || ip.IsUnspecified()) {
				continue
			}
			listening[f[9]] = true
		}
	}
	return groupHoldsSocket(pgid, listening)
}

// parseProcNetAddr parses /proc/net/tcp's "0100007F:1F90": the address as
// 32-bit words in host (little-endian) order, the port in hex.
func parseProcNetAddr(s string) (net.IP, int, bool) {
	h, p, ok := strings.Cut(s, ":")
	if !ok || (len(h) != 8 && len(h) != 32) {
		return nil, 0, false
	}
	raw, err := hex.DecodeString(h)
	if err != nil {
		return nil, 0, false
	}
	ip := make(net.IP, len(raw))
	for i := 0; i < len(raw); i += 4 {
		ip[i], ip[i+1], ip[i+2], ip[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return nil, 0, false
	}
	return ip, int(port), true
}
