package sqlitestore

import (
	"bytes"
	"context"
	"database/sql/driver"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/vigil-sh/vigil/server/store"
	"github.com/vigil-sh/vigil/server/store/storetest"
)

// TestMain lets the test binary double as the "other process" of the
// multi-process tests (see helper_test.go).
func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode, os.Getenv(helperDBEnv)))
	}
	os.Exit(m.Run())
}

// openTemp opens a store on a new file in t.TempDir() and closes it at the
// end of the test.
func openTemp(t testing.TB, opts Options) *Store {
	t.Helper()
	opts.Path = filepath.Join(t.TempDir(), "vigil.db")
	s, err := Open(opts)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// openAt opens a store on path and closes it at the end of the test.
func openAt(t testing.TB, path string) *Store {
	t.Helper()
	s, err := Open(Options{Path: path})
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func TestConformance(t *testing.T) {
	for _, sync := range []string{"", "full"} {
		name := "synchronous-" + sync
		if sync == "" {
			name = "defaults"
		}
		t.Run(name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) store.Store {
				s, err := Open(Options{Path: filepath.Join(t.TempDir(), "vigil.db"), Synchronous: sync})
				if err != nil {
					t.Fatalf("open: %v", err)
				}
				return s
			}, storetest.Options{})
		})
	}
}

func TestOpenRejectsBadOptions(t *testing.T) {
	dir := t.TempDir()
	t.Run("missing-directory/unavailable", func(t *testing.T) {
		_, err := Open(Options{Path: filepath.Join(dir, "nope", "vigil.db")})
		if !errors.Is(err, store.ErrUnavailable) || !strings.Contains(err.Error(), "directory of database") {
			t.Fatalf("got %v, want ErrUnavailable naming the directory", err)
		}
	})
	t.Run("unknown-synchronous", func(t *testing.T) {
		_, err := Open(Options{Path: filepath.Join(dir, "a.db"), Synchronous: "off"})
		if err == nil || !strings.Contains(err.Error(), `synchronous "off"`) {
			t.Fatalf("got %v, want an error naming synchronous", err)
		}
	})
	t.Run("negative-interval", func(t *testing.T) {
		_, err := Open(Options{Path: filepath.Join(dir, "b.db"), SweepInterval: -time.Second})
		if err == nil || !strings.Contains(err.Error(), "sweep interval") {
			t.Fatalf("got %v, want an error naming the sweep interval", err)
		}
	})
	t.Run("no-path", func(t *testing.T) {
		if _, err := Open(Options{}); err == nil {
			t.Fatal("open without a path succeeded")
		}
	})
	t.Run("not-a-database/clear-error", func(t *testing.T) {
		p := filepath.Join(dir, "junk.db")
		if err := os.WriteFile(p, bytes.Repeat([]byte("not sqlite "), 1000), 0o600); err != nil {
			t.Fatal(err)
		}
		if s, err := Open(Options{Path: p}); err == nil {
			s.Close()
			t.Fatal("opened a file that is not a database")
		}
	})
}

func TestOpenOddPath(t *testing.T) {
	// Characters that mean something in a file: URI must reach the file
	// system as they are.
	dir := filepath.Join(t.TempDir(), "a dir?x=1#frag%41")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "vi gil?.db")
	s := openAt(t, path)
	if err := s.Create(testCtx(t), store.KindSecret, "id", secretOf("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the database is not at the path given: %v", err)
	}
}

func TestCreateRejectsBadInput(t *testing.T) {
	s := openTemp(t, Options{})
	ctx := testCtx(t)
	for name, call := range map[string]func() error{
		"zero-ttl":     func() error { return s.Create(ctx, store.KindSecret, "a", store.Secret{Data: []byte("x")}) },
		"empty-id":     func() error { return s.Create(ctx, store.KindSecret, "", store.Secret{TTL: time.Hour}) },
		"unknown-kind": func() error { return s.Create(ctx, 9, "a", store.Secret{TTL: time.Hour}) },
	} {
		if err := call(); err == nil || isDomain(err) {
			t.Errorf("%s: got %v, want an input error", name, err)
		}
	}
}

func TestEmptyDataRoundTrips(t *testing.T) {
	s := openTemp(t, Options{})
	ctx := testCtx(t)
	if err := s.Create(ctx, store.KindFile, "empty", store.Secret{TTL: time.Hour}); err != nil {
		t.Fatalf("create with no data: %v", err)
	}
	got, err := s.Get(ctx, store.KindFile, "empty")
	if err != nil || len(got.Data) != 0 {
		t.Fatalf("get: %q, %v", got.Data, err)
	}
}

func TestPingHonoursContext(t *testing.T) {
	s := openTemp(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Ping(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("ping with a cancelled context: %v, want context.Canceled", err)
	}
}

// syncBuffer is a log sink safe for the store's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestMaintenanceLogsNoSecrets runs every kind of operation, lets the sweep
// and the checkpoint run, and checks that the trace-level log says what
// they did but holds no data and no id.
func TestMaintenanceLogsNoSecrets(t *testing.T) {
	var logs syncBuffer
	removed := make(chan int, 100)
	s := openTemp(t, Options{
		Logger:             hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Trace}),
		CheckpointInterval: 20 * time.Millisecond,
		SweepInterval:      20 * time.Millisecond,
		OnExpired:          func(n int) { removed <- n },
	})
	ctx := testCtx(t)
	const data, id = "SECRET-CIPHERTEXT-7f3a", "ID-a9c4e1"
	mustNot := func(err error, what string) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	mustNot(s.Create(ctx, store.KindSecret, id, store.Secret{Data: []byte(data), TTL: time.Hour, OneTime: true}), "create")
	if err := s.Create(ctx, store.KindSecret, id, store.Secret{Data: []byte(data), TTL: time.Hour}); !errors.Is(err, store.ErrExists) {
		t.Fatalf("duplicate create: %v", err)
	}
	_, err := s.Get(ctx, store.KindSecret, id)
	mustNot(err, "claim")
	mustNot(s.Create(ctx, store.KindFile, id+"-short", store.Secret{Data: []byte(data), TTL: time.Millisecond}), "create short")
	waitForRemoval(t, removed)
	mustNot(s.Close(), "close")
	out := logs.String()
	for _, secret := range []string{data, id} {
		if strings.Contains(out, secret) {
			t.Errorf("the log contains %q:\n%s", secret, out)
		}
	}
	for _, want := range []string{"expired secrets removed", "WAL checkpointed"} {
		if !strings.Contains(out, want) {
			t.Errorf("the log does not say %q:\n%s", want, out)
		}
	}
}

// waitForRemoval waits until a sweep reports that it removed a row.
func waitForRemoval(t *testing.T, removed <-chan int) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case n := <-removed:
			if n > 0 {
				return
			}
		case <-deadline:
			t.Fatal("no sweep removed the expired secret within 30s")
		}
	}
}

// TestCloseReleasesFiles: after Close no file descriptor of this process
// refers to the database, its WAL or its shared memory: the writer, the
// readers and the checkpoint connection are all closed.
func TestCloseReleasesFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vigil.db")
	s, err := Open(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	for i := 0; i < 50; i++ { // commits wake the checkpoint connection
		id := fmt.Sprint("id-", i)
		if err := s.Create(ctx, store.KindSecret, id, store.Secret{Data: []byte("x"), TTL: time.Hour, OneTime: i%2 == 0}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, store.KindSecret, id); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Status(ctx, store.KindSecret, id); err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatal(err)
		}
	}
	if n := len(openFilesUnder(t, path)); n < 3 {
		t.Fatalf("%d open files before Close; want the writer's, the readers' and the checkpointer's", n)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if open := openFilesUnder(t, path); len(open) > 0 {
		t.Fatalf("open after Close: %v", open)
	}
}

// openFilesUnder lists this process's file descriptors whose target starts
// with path (the file, -wal, -shm).
func openFilesUnder(t *testing.T, path string) []string {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("list open files: %v", err)
	}
	var open []string
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err == nil && strings.HasPrefix(target, path) {
			open = append(open, fd.Name()+" -> "+target)
		}
	}
	return open
}

// TestWriterConnectionReplaced: should database/sql discard the writer's
// connection (a driver reported it bad), the next batch prepares the
// statements again on the new one, and every operation goes on working.
func TestWriterConnectionReplaced(t *testing.T) {
	s := openTemp(t, Options{})
	ctx := testCtx(t)
	if err := s.Create(ctx, store.KindSecret, "before", store.Secret{Data: []byte("b"), TTL: time.Hour, OneTime: true}); err != nil {
		t.Fatal(err)
	}
	old := s.w.raw
	// The writer goroutine is idle (Create returned), so the connection is
	// free; database/sql closes a connection whose user reports ErrBadConn.
	if err := s.w.withRawConn(func(*rawConn) error { return driver.ErrBadConn }); !errors.Is(err, driver.ErrBadConn) {
		t.Fatalf("withRawConn: %v", err)
	}
	if err := s.Create(ctx, store.KindSecret, "after", store.Secret{Data: []byte("a"), TTL: time.Hour}); err != nil {
		t.Fatalf("create on the new connection: %v", err)
	}
	if s.w.raw == old || s.w.raw.dc == old.dc {
		t.Fatal("the writer kept the statements of the discarded connection")
	}
	if got, err := s.Get(ctx, store.KindSecret, "before"); err != nil || string(got.Data) != "b" {
		t.Fatalf("one-time read on the new connection: %q, %v", got.Data, err)
	}
	if _, err := s.Get(ctx, store.KindSecret, "before"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second one-time read: %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, store.KindSecret, "after"); err != nil {
		t.Fatalf("delete on the new connection: %v", err)
	}
}

// TestWALStartsOverAtHandOff checks the maintainer's hand-off: once the WAL
// is walRestartFrames long, the writer checkpoints between two batches and
// the WAL starts over from its beginning, long before the writer's own
// auto-checkpoint (walAutoCheckpoint pages) or the truncate (an hour here)
// would. A WAL that starts over bumps the checkpoint sequence number in its
// header.
func TestWALStartsOverAtHandOff(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vigil.db")
	s, err := Open(Options{Path: path, walRestartFrames: 32, CheckpointInterval: time.Hour})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := testCtx(t)
	wal := path + "-wal"
	deadline := time.Now().Add(time.Minute)
	for i := 0; ; i++ {
		id := fmt.Sprintf("handoff-%d", i)
		if err := s.Create(ctx, store.KindSecret, id, store.Secret{Data: make([]byte, 1024), TTL: time.Hour}); err != nil {
			t.Fatalf("create %d: %v", i, err)
		}
		if seq := walCheckpointSeq(t, wal); seq > 0 && s.w.handOffs.Load() > 0 {
			t.Logf("WAL started over (sequence %d) after %d creates and %d hand-offs", seq, i+1, s.w.handOffs.Load())
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %d creates in a minute: %d hand-offs, WAL never started over", i+1, s.w.handOffs.Load())
		}
	}
	// Everything written before and after is there.
	for _, id := range []string{"handoff-0", "handoff-1"} {
		if _, err := s.Get(ctx, store.KindSecret, id); err != nil {
			t.Fatalf("get %s: %v", id, err)
		}
	}
}

// walCheckpointSeq reads the checkpoint sequence number of a WAL file's
// header (bytes 12-15, big-endian), which SQLite increments each time the
// WAL starts over; 0 while the file is shorter than the header.
func walCheckpointSeq(t *testing.T, path string) uint32 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("open WAL: %v", err)
	}
	defer f.Close()
	var hdr [16]byte
	if _, err := f.ReadAt(hdr[:], 0); err != nil {
		if errors.Is(err, io.EOF) {
			return 0
		}
		t.Fatalf("read WAL header: %v", err)
	}
	return binary.BigEndian.Uint32(hdr[12:])
}
