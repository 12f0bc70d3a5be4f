package sqlitestore

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-sh/vigil/server/store"
	"github.com/vigil-sh/vigil/server/store/storetest"
)

// The test binary re-executed with helperEnv set is the other process of
// the multi-process tests; helperDBEnv names the database file.
const (
	helperEnv   = "SQLITESTORE_TEST_HELPER"
	helperDBEnv = "SQLITESTORE_TEST_DB"
	// maintenanceEnv makes both processes checkpoint and sweep constantly.
	maintenanceEnv = "SQLITESTORE_TEST_BUSY_MAINTENANCE"
	// patienceEnv sets the helper's read patience (a Go duration): a tiny
	// one sends its reads down Get's fallback path.
	patienceEnv = "SQLITESTORE_TEST_READ_PATIENCE"
)

// runHelper is the child's main: "serve" answers commands on stdin,
// "durable" creates secrets until it is killed.
func runHelper(mode, path string) int {
	s, err := Open(helperOptions(path))
	if err != nil {
		fmt.Printf("error %v\n", err)
		return 1
	}
	defer s.Close()
	switch mode {
	case "serve":
		serve(s, os.Stdin, os.Stdout)
	case "durable":
		createUntilKilled(s, os.Stdout)
	case "claim":
		claimUntilKilled(s, os.Stdout)
	default:
		fmt.Printf("error unknown helper mode %q\n", mode)
		return 2
	}
	return 0
}

// helperOptions are the options both processes of a test use: with
// maintenanceEnv set, checkpoints and sweeps run every few milliseconds so
// they overlap the other process's work.
func helperOptions(path string) Options {
	o := Options{Path: path}
	if os.Getenv(maintenanceEnv) != "" {
		o.CheckpointInterval = 5 * time.Millisecond
		o.SweepInterval = 5 * time.Millisecond
	}
	if d, err := time.ParseDuration(os.Getenv(patienceEnv)); err == nil {
		o.readPatience = d
	}
	return o
}

// serve answers one line per command line:
//
//	create ID DATA / create1 ID DATA (one-time)  -> ok | exists | error ...
//	get ID                                       -> ok DATA | notfound | error ...
//	race READERS ID...  -> armed; then on "fire UNIXNANO": wins N... (one per id)
//	fallbacks           -> how many reads went to the reader pool so far
//	quit
func serve(s *Store, in io.Reader, out io.Writer) {
	ctx := context.Background()
	lines := bufio.NewScanner(in)
	fmt.Fprintln(out, "ready")
	for lines.Scan() {
		f := strings.Fields(lines.Text())
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "create", "create1":
			err := s.Create(ctx, store.KindSecret, f[1], store.Secret{Data: []byte(f[2]), TTL: time.Hour, OneTime: f[0] == "create1"})
			fmt.Fprintln(out, answer("", err))
		case "get":
			sec, err := s.Get(ctx, store.KindSecret, f[1])
			fmt.Fprintln(out, answer(string(sec.Data), err))
		case "race":
			readers, _ := strconv.Atoi(f[1])
			fmt.Fprintln(out, race(s, readers, f[2:], lines, out))
		case "fallbacks":
			fmt.Fprintln(out, s.fallbacks.Load())
		case "quit":
			return
		default:
			fmt.Fprintf(out, "error unknown command %q\n", f[0])
		}
	}
}

// answer formats a store result as one line.
func answer(data string, err error) string {
	switch {
	case err == nil:
		return strings.TrimSpace("ok " + data)
	case errors.Is(err, store.ErrExists):
		return "exists"
	case errors.Is(err, store.ErrNotFound):
		return "notfound"
	}
	return "error " + err.Error()
}

// race arms readers goroutines per id, says "armed", waits for "fire" and
// returns how many of each id's readers got the secret.
func race(s *Store, readers int, ids []string, lines *bufio.Scanner, out io.Writer) string {
	fire := make(chan struct{})
	results := armRace(s, readers, ids, fire)
	fmt.Fprintln(out, "armed")
	var at int64
	if !lines.Scan() {
		close(fire)
		<-results
		return "error expected fire"
	}
	if _, err := fmt.Sscanf(lines.Text(), "fire %d", &at); err != nil {
		close(fire)
		<-results
		return "error expected fire: " + err.Error()
	}
	fireAt(time.Unix(0, at), fire)
	r := <-results
	if r.err != nil {
		return "error " + r.err.Error()
	}
	return "wins " + strings.Trim(fmt.Sprint(r.wins), "[]")
}

// fireAt closes fire at the given instant. Two processes share no memory
// to start a race with; a shared instant of the one system clock, agreed on
// in advance, starts both sides together so neither has a head start of a
// pipe round trip.
func fireAt(at time.Time, fire chan struct{}) {
	time.Sleep(time.Until(at)) // a rendezvous at a clock instant, not a wait for a condition
	close(fire)
}

type raceResult struct {
	wins []int
	err  error
}

// armRace starts readers goroutines per id that all call Get once fire is
// closed; the result arrives when all are done.
func armRace(s *Store, readers int, ids []string, fire <-chan struct{}) <-chan raceResult {
	done := make(chan raceResult, 1)
	wins := make([]int, len(ids))
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	for i, id := range ids {
		for r := 0; r < readers; r++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-fire
				_, err := s.Get(context.Background(), store.KindSecret, id)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					wins[i]++
				case !errors.Is(err, store.ErrNotFound) && firstErr == nil:
					firstErr = err
				}
			}()
		}
	}
	go func() {
		wg.Wait()
		done <- raceResult{wins: wins, err: firstErr}
	}()
	return done
}

// createUntilKilled creates secrets from several goroutines (so batches are
// in flight when the kill comes) and prints "ok ID" for each only after
// Create returned nil.
func createUntilKilled(s *Store, out io.Writer) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 1_000_000; i++ {
				id := fmt.Sprintf("g%d-%d", g, i)
				err := s.Create(context.Background(), store.KindSecret, id, store.Secret{Data: []byte("data-" + id), TTL: time.Hour})
				mu.Lock()
				fmt.Fprintln(out, answer(id, err))
				mu.Unlock()
				if err != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
}

// claimCount is how many one-time secrets (ids "once-0", "once-1", ...)
// the parent creates for claimUntilKilled.
const claimCount = 2000

// claimUntilKilled reads the one-time secrets the parent created, from
// several goroutines, and prints "ok ID" for each only after Get returned
// it.
func claimUntilKilled(s *Store, out io.Writer) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < claimCount; i += 8 {
				id := fmt.Sprint("once-", i)
				sec, err := s.Get(context.Background(), store.KindSecret, id)
				if err == nil && string(sec.Data) != "data-"+id {
					err = fmt.Errorf("read %q", sec.Data)
				}
				mu.Lock()
				fmt.Fprintln(out, answer(id, err))
				mu.Unlock()
				if err != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
}

// child is a running helper process.
type child struct {
	t     *testing.T
	cmd   *exec.Cmd
	in    io.WriteCloser
	lines chan string // complete lines of its stdout; closed at EOF
}

// startChild re-executes the test binary as a helper in mode on path.
func startChild(t *testing.T, mode, path string, env ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode, helperDBEnv+"="+path)
	cmd.Env = append(cmd.Env, env...)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start helper: %v", err)
	}
	c := &child{t: t, cmd: cmd, in: in, lines: make(chan string, 1024)}
	go readLines(out, c.lines)
	t.Cleanup(c.stop)
	return c
}

// readLines sends every newline-terminated line; a partial last line (the
// process died while writing it) is dropped.
func readLines(r io.Reader, lines chan<- string) {
	defer close(lines)
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		lines <- strings.TrimSuffix(line, "\n")
	}
}

// next returns the child's next line, failing the test after a minute.
func (c *child) next() string {
	c.t.Helper()
	select {
	case line, ok := <-c.lines:
		if !ok {
			c.t.Fatal("the helper closed its stdout")
		}
		return line
	case <-time.After(time.Minute):
		c.t.Fatal("no answer from the helper within a minute")
	}
	return ""
}

// call sends one command and returns the answer.
func (c *child) call(cmd string) string {
	c.t.Helper()
	c.send(cmd)
	return c.next()
}

func (c *child) send(cmd string) {
	c.t.Helper()
	if _, err := fmt.Fprintln(c.in, cmd); err != nil {
		c.t.Fatalf("send %q to the helper: %v", cmd, err)
	}
}

// stop asks the child to quit and waits a bounded time before killing it.
func (c *child) stop() {
	fmt.Fprintln(c.in, "quit")
	c.in.Close()
	done := make(chan error, 1)
	go func() { done <- c.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		c.cmd.Process.Kill()
		<-done
		c.t.Error("the helper did not quit within 30s; killed")
	}
}

// newIDs returns n random ids.
func newIDs(t *testing.T, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = storetest.NewID(t)
	}
	return ids
}
