// Command vigil is a process supervisor that can run as a container's PID 1,
// under systemd, or on a VM: vigil [options] [--] command [args...].
package main

import (
	"context"
	"os"

	"golang.org/x/sys/unix"

	"github.com/vigil-sh/vigil/supervisor/reexec"
	"github.com/vigil-sh/vigil/supervisor/signals"
)

// version is set by the build (-ldflags -X main.version=...).
var version = "dev"

func main() {
	reexec.Main()     // a child on its way to exec its command never returns
	signals.Prepare() // may re-exec vigil once, with signals blocked
	sigs := signals.Open()
	closeInheritedOnExec()
	os.Exit(run(context.Background(), os.Args[1:], os.Environ(), sigs, os.Stdin, os.Stdout, os.Stderr))
}

// closeInheritedOnExec marks every descriptor vigil inherited above 2
// close-on-exec, so none leaks to a child or a check by accident. Sockets
// systemd passed are still taken later: marking them does not close them,
// and vigil hands children duplicates anyway.
func closeInheritedOnExec() {
	// Kernels before 5.11 lack CLOSE_RANGE_CLOEXEC; the re-exec every child
	// starts through closes stray descriptors as well.
	_ = unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
}
