package emulator

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"syscall"
)

// canListGroup says groupMembers names each live member.
const canListGroup = true

// groupLeaderAttr makes the gcloud wrapper lead a new process group, so
// Stop can signal it and everything it spawned at once. Pdeathsig kills
// the wrapper if we die; the watchdog takes care of its children.
// Pdeathsig fires when the forking OS thread exits, which Go threads only
// do for goroutines that exit while locked with runtime.LockOSThread.
func groupLeaderAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// groupMembers lists the live (non-zombie) processes of process group
// pgid. Zombies are skipped because orphaned ones are reaped by init, not
// by us, and hold neither memory nor ports.
func groupMembers(pgid int) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	var pids []int
	for _, ent := range entries {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + ent.Name() + "/stat")
		if err != nil {
			continue // exited meanwhile
		}
		// "pid (comm) state ppid pgrp ...": comm may hold spaces and
		// parentheses, so parse after the last ')'.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := bytes.Fields(stat[i+1:])
		if len(f) < 3 || string(f[0]) == "Z" || string(f[0]) == "X" {
			continue
		}
		if g, err := strconv.Atoi(string(f[2])); err == nil && g == pgid {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}
