// Command vigil-server is a one-time secret-sharing HTTP server compatible
// with Yopass's API. It stores only ciphertext, in a SQLite file or in Redis.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	// Installed first so a signal that arrives while the store opens is
	// queued, not lost (and never kills the process with Go's default).
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr, sigs))
}
