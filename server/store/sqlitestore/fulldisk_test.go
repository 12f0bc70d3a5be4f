package sqlitestore

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vigil-sh/vigil/server/store"
)

// testReadsNextToAFailingCreate puts reads of stored secrets in one batch
// with a create the full disk has no room for: the create fails, the batch
// with it, and each read, run again on its own, still answers.
func testReadsNextToAFailingCreate(t *testing.T, path string, created []string, data [][]byte) {
	g := newGate()
	// Reads wait for the held writer rather than reading on the pool.
	s, err := Open(Options{Path: path, testHookBatch: g.hook, readPatience: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := testCtx(t)
	held := make(chan error, 1)
	go func() {
		_, err := s.Get(ctx, store.KindFile, created[0])
		held <- err
	}()
	g.waitHeld(t)
	big := make(chan error, 1)
	go func() {
		big <- s.Create(ctx, store.KindFile, "too-big", store.Secret{Data: make([]byte, 4<<20), TTL: time.Hour})
	}()
	n := min(len(created), 5)
	reads := make([]chan error, n)
	for i := range reads {
		reads[i] = make(chan error, 1)
		go func() {
			got, err := s.Get(ctx, store.KindFile, created[i])
			if err == nil && !bytes.Equal(got.Data, data[i]) {
				err = fmt.Errorf("read %d bytes, not what was stored", len(got.Data))
			}
			reads[i] <- err
		}()
	}
	waitQueued(t, s, n+1)
	close(g.release)
	if err := <-held; err != nil {
		t.Fatalf("read in the held batch: %v", err)
	}
	if err := <-big; !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("create of 4 MiB on a 2 MiB disk: %v; want store.ErrUnavailable", err)
	}
	for i, r := range reads {
		if err := <-r; err != nil {
			t.Fatalf("read of %s batched with a failing create: %v", created[i], err)
		}
	}
}

// TestFullDisk fills a 2 MiB tmpfs: the Create that does not fit fails with
// store.ErrUnavailable saying the disk is full, and every secret created
// before it can still be read, also after the store is closed and opened
// again. (On a full disk every write fails, deletes and one-time claims
// included: each needs room in the WAL.)
func TestFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("SKIPPED: TestFullDisk needs root to mount a tmpfs; the disk-full path is NOT tested")
	}
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=2m"); err != nil {
		t.Fatalf("mount a 2 MiB tmpfs on %s as root: %v", dir, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	s := openAt(t, filepath.Join(dir, "vigil.db"))
	ctx := testCtx(t)
	var created []string
	var data [][]byte
	var err error
	for i := 0; i < 1000; i++ {
		d := make([]byte, 16*1024)
		rand.Read(d)
		id := fmt.Sprint("fill-", i)
		if err = s.Create(ctx, store.KindFile, id, store.Secret{Data: d, TTL: time.Hour}); err != nil {
			break
		}
		created, data = append(created, id), append(data, d)
	}
	if err == nil {
		t.Fatal("1000 creates of 16 KiB fit in a 2 MiB tmpfs")
	}
	t.Logf("create %d failed: %v", len(created), err)
	if !errors.Is(err, store.ErrUnavailable) || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("create on a full disk: %v; want store.ErrUnavailable saying \"disk full\"", err)
	}
	if len(created) == 0 {
		t.Fatal("not even one secret fitted; the test proves nothing")
	}
	checkAll := func(s *Store, when string) {
		for i, id := range created {
			got, err := s.Get(ctx, store.KindFile, id)
			if err != nil || !bytes.Equal(got.Data, data[i]) {
				t.Fatalf("%s: secret %s created before the disk filled: %d bytes, %v", when, id, len(got.Data), err)
			}
		}
	}
	checkAll(s, "same store")
	testReadsNextToAFailingCreate(t, filepath.Join(dir, "vigil.db"), created, data)
	// Close still succeeds on the full disk, and a new store there reads
	// every secret.
	if err := s.Close(); err != nil {
		t.Fatalf("close on a full disk: %v", err)
	}
	checkAll(openAt(t, filepath.Join(dir, "vigil.db")), "reopened")
}
