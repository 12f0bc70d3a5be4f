package redistest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// StartSentinel starts a Redis Sentinel on a free port that monitors master
// under masterName. Its URL() is redis+sentinel://127.0.0.1:PORT/NAME/0.
func StartSentinel(t testing.TB, master *Server, masterName string) *Server {
	t.Helper()
	s := newServer(t)
	s.urlFormat = "redis+sentinel://%s/" + masterName + "/0"
	conf := filepath.Join(s.dir, "sentinel.conf")
	// Sentinel rewrites its config file, so it must be a writable file.
	body := fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d 1\nsentinel down-after-milliseconds %s 60000\n",
		masterName, master.Port(), masterName)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatalf("redistest: write sentinel config: %v", err)
	}
	s.args = func() []string {
		return []string{conf, "--sentinel", "--port", fmt.Sprint(s.port), "--bind", "127.0.0.1",
			"--dir", s.dir, "--daemonize", "no", "--logfile", ""}
	}
	return s.run()
}

// StartCluster starts a one-node Redis Cluster that owns every hash slot.
// Its URL() is redis+cluster://127.0.0.1:PORT.
func StartCluster(t testing.TB) *Server {
	t.Helper()
	s := newServer(t)
	s.urlFormat = "redis+cluster://%s"
	s.args = func() []string {
		return append(s.dataArgs(), "--appendonly", "no", "--cluster-enabled", "yes",
			"--cluster-config-file", filepath.Join(s.dir, "nodes.conf"))
	}
	s.run()
	c := s.Client()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if err := c.ClusterAddSlotsRange(ctx, 0, 16383).Err(); err != nil {
		t.Fatalf("redistest: assign cluster slots: %v", err)
	}
	for {
		info, err := c.ClusterInfo(ctx).Result()
		if err == nil && strings.Contains(info, "cluster_state:ok") {
			return s
		}
		select {
		case <-ctx.Done():
			t.Fatalf("redistest: cluster not ok within %v: %v\n%s", startTimeout, err, info)
		case <-time.After(20 * time.Millisecond): // poll interval
		}
	}
}
