package e2e

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// children returns the pids of pid's direct children (zombies included).
func children(pid int) []int {
	files, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var pids []int
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, field := range strings.Fields(string(b)) {
			if p, err := strconv.Atoi(field); err == nil {
				pids = append(pids, p)
			}
		}
	}
	slices.Sort(pids)
	return pids
}

// cmdline is pid's argument vector; empty for a zombie or a gone process.
func cmdline(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
}

// serverChildren are vigil's children running vigil-server to serve (not
// to check a configuration).
func serverChildren(vigilPid int) []int {
	var pids []int
	for _, p := range children(vigilPid) {
		args := cmdline(p)
		if len(args) > 0 && filepath.Base(args[0]) == "vigil-server" && !slices.Contains(args, "-check") {
			pids = append(pids, p)
		}
	}
	return pids
}

func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name, which is in parentheses.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// leftovers lists live processes, other than this test, whose command line
// mentions marker (a test's temporary directory).
func leftovers(marker string) []string {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var out []string
	for _, d := range dirs {
		pid, _ := strconv.Atoi(filepath.Base(d))
		if pid == os.Getpid() || !alive(pid) {
			continue
		}
		if args := cmdline(pid); strings.Contains(strings.Join(args, " "), marker) {
			out = append(out, fmt.Sprintf("%d %s", pid, strings.Join(args, " ")))
		}
	}
	return out
}

// listenerInode is the inode of the socket listening on 127.0.0.1:port, or
// "" when there is none.
func listenerInode(port int) string {
	return tcpInode(func(local, remote string, state string) bool {
		return state == "0A" && local == fmt.Sprintf("0100007F:%04X", port)
	})
}

// connInode is the inode of the server's end of the connection between
// 127.0.0.1:serverPort and 127.0.0.1:clientPort.
func connInode(serverPort, clientPort int) string {
	return tcpInode(func(local, remote string, state string) bool {
		return local == fmt.Sprintf("0100007F:%04X", serverPort) && remote == fmt.Sprintf("0100007F:%04X", clientPort)
	})
}

// tcpInode scans /proc/net/tcp (addresses in hex, IPv4 in network order
// read as a little-endian word) for the first socket match accepts.
func tcpInode(match func(local, remote, state string) bool) string {
	f, err := os.Open("/proc/net/tcp")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 10 || fs[0] == "sl" {
			continue
		}
		if match(fs[1], fs[2], fs[3]) {
			return fs[9]
		}
	}
	return ""
}

// holds reports whether pid has a descriptor on the socket with inode.
func holds(pid int, inode string) bool {
	if inode == "" {
		return false
	}
	fds, _ := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", pid))
	for _, fd := range fds {
		if target, err := os.Readlink(fd); err == nil && target == "socket:["+inode+"]" {
			return true
		}
	}
	return false
}
