//go:build unix && !linux

package emulator

import (
	"errors"
	"fmt"
	"syscall"
)

// canListGroup says groupMembers only tells whether the group is empty.
const canListGroup = false

// groupLeaderAttr makes the gcloud wrapper lead a new process group, so
// Stop can signal it and everything it spawned at once. Pdeathsig does
// not exist here; the watchdog alone covers our death.
func groupLeaderAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// groupMembers reports whether process group pgid still has processes;
// without /proc it cannot tell zombies apart or name the pids.
func groupMembers(pgid int) ([]int, error) {
	err := syscall.Kill(-pgid, 0)
	switch {
	case errors.Is(err, syscall.ESRCH):
		return nil, nil
	case err == nil, errors.Is(err, syscall.EPERM):
		return []int{-pgid}, nil
	default:
		return nil, fmt.Errorf("probe process group %d: %w", pgid, err)
	}
}
