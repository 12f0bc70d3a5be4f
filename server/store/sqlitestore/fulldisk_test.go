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
	// Close still succeeds on the full disk, and a new store there reads
	// every secret.
	if err := s.Close(); err != nil {
		t.Fatalf("close on a full disk: %v", err)
	}
	checkAll(openAt(t, filepath.Join(dir, "vigil.db")), "reopened")
}
