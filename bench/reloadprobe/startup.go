package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

func startup(args []string) error {
	fs := newFlags("startup")
	bin := fs.String("server", "bin/vigil-server", "the vigil-server binary")
	cfg := fs.String("config", "", "its config file")
	n := fs.Int("n", 20, "number of starts")
	_ = fs.Parse(args)
	dir, err := os.MkdirTemp("", "reloadprobe")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("notify socket: %w", err)
	}
	defer conn.Close()
	var took []time.Duration
	for i := 0; i < *n; i++ {
		d, err := startOnce(*bin, *cfg, sock, conn)
		if err != nil {
			return fmt.Errorf("start %d: %w", i+1, err)
		}
		took = append(took, d)
	}
	summary("vigil-server alone: exec -> READY=1", took)
	return nil
}

// startOnce starts the server on a port of its own, waits for READY=1,
// stops it with SIGTERM and returns the time to READY.
func startOnce(bin, cfg, sock string, conn *net.UnixConn) (time.Duration, error) {
	cmd := exec.Command(bin, "-config", cfg, "-listen", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+sock, "VIGIL_LOG_LEVEL=warn")
	cmd.Stderr = os.Stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() }()
	buf := make([]byte, 4096)
	_ = conn.SetReadDeadline(start.Add(30 * time.Second))
	for {
		k, err := conn.Read(buf)
		if err != nil {
			return 0, fmt.Errorf("wait for READY=1: %w", err)
		}
		if strings.Contains(string(buf[:k]), "READY=1") {
			return time.Since(start), nil
		}
	}
}
