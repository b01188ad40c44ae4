package devstack

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// listensOn reports whether process pid holds a listening TCP socket on
// port, from /proc: a socket the process has open whose inode the
// kernel's TCP tables list as listening on that port. ok is false when
// /proc cannot tell (not Linux).
//
// A connection to the port cannot tell: the port is chosen free and then
// bound by the child, and another process may take it in between, when
// the connection reaches that process instead.
func listensOn(pid, port int) (listening, ok bool) {
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return false, false
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(link, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
		}
	}
	read := false
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		raw, err := os.ReadFile(table)
		if err != nil {
			continue
		}
		read = true
		if listensIn(string(raw), port, inodes) {
			return true, true
		}
	}
	return false, read
}

// listensIn reports whether a /proc/net/tcp table lists one of inodes
// listening on port.
func listensIn(table string, port int, inodes map[string]bool) bool {
	const listen = "0A" // TCP_LISTEN
	for _, line := range strings.Split(table, "\n")[1:] {
		f := strings.Fields(line)
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
		if len(f) < 10 || f[3] != listen || !inodes[f[9]] {
			continue
		}
		_, hex, found := strings.Cut(f[1], ":")
		if p, err := strconv.ParseUint(hex, 16, 16); found && err == nil && int(p) == port {
			return true
		}
	}
	return false
}
