package sqlitestore

import (
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-sh/vigil/server/store"
)

// TestTwoProcesses shares one file between this process and a helper
// process, as the old and the new server do during a reload.
func TestTwoProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vigil.db")
	// Both open the new file at the same time, and both checkpoint (TRUNCATE)
	// and sweep every 5ms, so maintenance overlaps the other's writes, reads
	// and claims.
	c := startChild(t, "serve", path, maintenanceEnv+"=1")
	t.Setenv(maintenanceEnv, "1")
	s, err := Open(helperOptions(path))
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if got := c.next(); got != "ready" {
		t.Fatalf("helper: %s", got)
	}
	ctx := testCtx(t)

	t.Run("child-reads-what-parent-wrote", func(t *testing.T) {
		for i, id := range newIDs(t, 10) {
			if err := s.Create(ctx, store.KindSecret, id, secretOf(fmt.Sprint("p", i))); err != nil {
				t.Fatal(err)
			}
			if got, want := c.call("get "+id), fmt.Sprint("ok p", i); got != want {
				t.Fatalf("child read %q, want %q", got, want)
			}
		}
	})
	t.Run("parent-reads-what-child-wrote", func(t *testing.T) {
		for i, id := range newIDs(t, 10) {
			if got := c.call(fmt.Sprintf("create %s c%d", id, i)); got != "ok" {
				t.Fatalf("child create: %s", got)
			}
			got, err := s.Get(ctx, store.KindSecret, id)
			if err != nil || string(got.Data) != fmt.Sprint("c", i) {
				t.Fatalf("parent read %q, %v", got.Data, err)
			}
		}
	})
	t.Run("no-overwrite-across-processes", func(t *testing.T) {
		id := newIDs(t, 1)[0]
		if err := s.Create(ctx, store.KindSecret, id, secretOf("parent")); err != nil {
			t.Fatal(err)
		}
		if got := c.call("create " + id + " child"); got != "exists" {
			t.Fatalf("child create over the parent's id: %s, want exists", got)
		}
	})
	t.Run("one-time-race/one-winner-overall", func(t *testing.T) {
		// Three rounds of 8 secrets, 16 readers per secret in each process:
		// a batch in one process often claims a whole round, so more rounds
		// give the other process more chances to win some.
		for round := 0; round < 3; round++ {
			testCrossProcessClaims(t, s, c, 8, 16)
		}
	})
}

// TestTwoProcessesFallback races one-time claims across two processes
// where the child's reads give up on its writer at once (a patience of 1ns)
// and take Get's fallback path (a read on the reader pool, then a
// DELETE ... RETURNING claim), while the parent's run in its writer's
// batches: still exactly one winner per secret.
func TestTwoProcessesFallback(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vigil.db")
	c := startChild(t, "serve", path, patienceEnv+"=1ns")
	s := openAt(t, path)
	if got := c.next(); got != "ready" {
		t.Fatalf("helper: %s", got)
	}
	for round := 0; round < 3; round++ {
		testCrossProcessClaims(t, s, c, 8, 16)
	}
	n, err := strconv.Atoi(c.call("fallbacks"))
	if err != nil || n == 0 {
		t.Fatalf("the child's reads on the fallback path: %d, %v; the test proves nothing", n, err)
	}
	t.Logf("the child read %d times on the fallback path", n)
}

// TestConcurrentOpen: several processes open a new file at the same moment;
// each sets WAL mode and creates the schema without failing, and a write by
// one is read by another.
func TestConcurrentOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vigil.db")
	children := []*child{startChild(t, "serve", path), startChild(t, "serve", path), startChild(t, "serve", path)}
	s := openAt(t, path)
	for i, c := range children {
		if got := c.next(); got != "ready" {
			t.Fatalf("helper %d: %s", i, got)
		}
	}
	id := newIDs(t, 1)[0]
	if got := children[0].call("create " + id + " shared"); got != "ok" {
		t.Fatalf("create: %s", got)
	}
	for i, c := range children {
		if got := c.call("get " + id); got != "ok shared" {
			t.Fatalf("helper %d read %q", i, got)
		}
	}
	if got, err := s.Get(testCtx(t), store.KindSecret, id); err != nil || string(got.Data) != "shared" {
		t.Fatalf("parent read %q, %v", got.Data, err)
	}
}

// testCrossProcessClaims creates one-time secrets (half in each process),
// then readers goroutines in each process race for every one of them at
// once; each secret must have exactly one winner across both.
func testCrossProcessClaims(t *testing.T, s *Store, c *child, secrets, readers int) {
	ctx := testCtx(t)
	ids := newIDs(t, secrets)
	for i, id := range ids {
		if i%2 == 0 {
			if err := s.Create(ctx, store.KindSecret, id, store.Secret{Data: []byte("x"), TTL: time.Hour, OneTime: true}); err != nil {
				t.Fatal(err)
			}
		} else if got := c.call("create1 " + id + " x"); got != "ok" {
			t.Fatalf("child create: %s", got)
		}
	}
	if got := c.call(fmt.Sprintf("race %d %s", readers, strings.Join(ids, " "))); got != "armed" {
		t.Fatalf("child race: %s", got)
	}
	fire := make(chan struct{})
	mine := armRace(s, readers, ids, fire)
	at := time.Now().Add(100 * time.Millisecond)
	c.send(fmt.Sprint("fire ", at.UnixNano()))
	fireAt(at, fire)
	parent := <-mine
	if parent.err != nil {
		t.Fatalf("parent reader: %v", parent.err)
	}
	theirs := parseWins(t, c.next(), len(ids))
	won := [2]int{}
	for i := range ids {
		if n := parent.wins[i] + theirs[i]; n != 1 {
			t.Errorf("secret %d: %d winners (parent %d, child %d), want exactly 1", i, n, parent.wins[i], theirs[i])
		}
		won[0] += parent.wins[i]
		won[1] += theirs[i]
	}
	t.Logf("claims won: parent %d, child %d", won[0], won[1])
}

// parseWins reads the child's "wins N N ..." line.
func parseWins(t *testing.T, line string, n int) []int {
	t.Helper()
	f := strings.Fields(line)
	if len(f) != n+1 || f[0] != "wins" {
		t.Fatalf("child race result: %q", line)
	}
	wins := make([]int, n)
	for i := range wins {
		var err error
		if wins[i], err = strconv.Atoi(f[i+1]); err != nil {
			t.Fatalf("child race result %q: %v", line, err)
		}
	}
	return wins
}

// TestDurableAfterKill: every Create that returned nil in a process that
// is then SIGKILLed is in the file when it is opened again. In WAL mode
// with synchronous=NORMAL a commit is in the WAL file (the OS page cache)
// when Create returns, which survives the death of the process; only a
// power loss or OS crash can lose the last commits, and that is what
// synchronous=FULL is for.
func TestDurableAfterKill(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vigil.db")
	c := startChild(t, "durable", path)
	var acked []string
	for len(acked) < 500 {
		acked = append(acked, ackedID(t, c.next()))
	}
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill the helper: %v", err)
	}
	// Acks already in the pipe were sent before the kill: they count too.
	for line := range c.lines {
		acked = append(acked, ackedID(t, line))
	}
	err := c.cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || !exit.Sys().(syscall.WaitStatus).Signaled() {
		t.Fatalf("the helper was not killed by the signal: %v", err)
	}
	s := openAt(t, path)
	ctx := testCtx(t)
	for _, id := range acked {
		got, err := s.Get(ctx, store.KindSecret, id)
		if err != nil || string(got.Data) != "data-"+id {
			t.Fatalf("acknowledged secret %s lost after SIGKILL: %q, %v", id, got.Data, err)
		}
	}
	t.Logf("%d acknowledged secrets all present after SIGKILL", len(acked))
}

// TestClaimDurableAfterKill: a one-time secret that Get returned in a
// process that is then SIGKILLed is gone when the file is opened again: the
// read was answered only after the transaction that deleted it committed,
// so a crash cannot hand it out a second time.
func TestClaimDurableAfterKill(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vigil.db")
	s := openAt(t, path)
	ctx := testCtx(t)
	for i := 0; i < claimCount; i++ {
		id := fmt.Sprint("once-", i)
		if err := s.Create(ctx, store.KindSecret, id, store.Secret{Data: []byte("data-" + id), TTL: time.Hour, OneTime: true}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	c := startChild(t, "claim", path)
	var acked []string
	for len(acked) < 500 {
		acked = append(acked, ackedID(t, c.next()))
	}
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill the helper: %v", err)
	}
	for line := range c.lines {
		acked = append(acked, ackedID(t, line))
	}
	err := c.cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || !exit.Sys().(syscall.WaitStatus).Signaled() {
		t.Fatalf("the helper was not killed by the signal (did it read every secret before the kill?): %v", err)
	}
	s = openAt(t, path)
	for _, id := range acked {
		if got, err := s.Get(ctx, store.KindSecret, id); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("one-time secret %s, returned before SIGKILL, readable again: %q, %v", id, got.Data, err)
		}
	}
	t.Logf("%d one-time secrets returned before SIGKILL all gone after it", len(acked))
}

// ackedID parses the helper's "ok ID" line.
func ackedID(t *testing.T, line string) string {
	t.Helper()
	id, ok := strings.CutPrefix(line, "ok ")
	if !ok {
		t.Fatalf("helper: %s", line)
	}
	return id
}
