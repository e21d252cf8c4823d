package runtime

import (
	"bytes"
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
