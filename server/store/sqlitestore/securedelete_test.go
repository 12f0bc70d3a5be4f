package sqlitestore

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigil-sh/vigil/server/store"
)

// TestClaimedCiphertextLeavesNoTrace: once a secret is claimed or deleted
// and the store is closed (its final TRUNCATE checkpoint), none of its bytes
// are left in the database file or the WAL. Small data lives in the row's
// cell, large data in overflow pages; both are checked.
func TestClaimedCiphertextLeavesNoTrace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vigil.db")
	s, err := Open(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	small := []byte("SMALL-CIPHERTEXT-MARKER-5d2e")
	large := bytes.Repeat([]byte("LARGE-CIPHERTEXT-MARKER-91fb"), 4000)
	kept := []byte("KEPT-CIPHERTEXT-MARKER-33aa")
	for id, sec := range map[string]store.Secret{
		"small": {Data: small, TTL: time.Hour, OneTime: true},
		"large": {Data: large, TTL: time.Hour},
		"kept":  {Data: kept, TTL: time.Hour},
	} {
		if err := s.Create(ctx, store.KindSecret, id, sec); err != nil {
			t.Fatalf("create %s: %v", id, err)
		}
	}
	if _, err := s.Get(ctx, store.KindSecret, "small"); err != nil {
		t.Fatalf("claim: %v", err)
	}
	if err := s.Delete(ctx, store.KindSecret, "large"); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	var all []byte
	for _, p := range []string{path, path + "-wal"} {
		b, err := os.ReadFile(p)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	if !bytes.Contains(all, kept) {
		t.Fatal("the kept secret is not in the files; the check below proves nothing")
	}
	for name, marker := range map[string][]byte{"claimed": small[:20], "deleted": large[:20]} {
		if bytes.Contains(all, marker) {
			t.Errorf("the %s secret's ciphertext is still in the database files", name)
		}
	}
}
