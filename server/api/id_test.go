package api

import (
	"math/big"
	"strings"
	"testing"
)

func TestEncodeBase62(t *testing.T) {
	cases := []struct {
		name string
		in   [16]byte
	}{
		{"zero-is-all-padding", [16]byte{}},
		{"one", [16]byte{15: 1}},
		{"low-word-only", [16]byte{8: 0xff, 9: 0xff, 10: 0xff, 11: 0xff, 12: 0xff, 13: 0xff, 14: 0xff, 15: 0xff}},
		{"high-word-only", [16]byte{0: 0x80}},
		{"max", [16]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := encodeBase62(c.in)
			want := bigBase62(c.in)
			if got != want {
				t.Fatalf("encodeBase62(%x) = %q, want %q", c.in, got, want)
			}
			if !validID(got) {
				t.Fatalf("encodeBase62(%x) = %q is not a valid id", c.in, got)
			}
		})
	}
}

// bigBase62 is the obvious, slow reference: math/big in base 62, padded.
func bigBase62(b [16]byte) string {
	n := new(big.Int).SetBytes(b[:])
	var digits []byte
	sixtyTwo := big.NewInt(62)
	for n.Sign() > 0 {
		var r big.Int
		n.DivMod(n, sixtyTwo, &r)
		digits = append([]byte{base62[r.Int64()]}, digits...)
	}
	return strings.Repeat("0", idLen-len(digits)) + string(digits)
}

func TestNewID(t *testing.T) {
	t.Run("unique-and-well-formed", func(t *testing.T) {
		seen := map[string]bool{}
		for range 2000 {
			id, err := newID()
			if err != nil {
				t.Fatal(err)
			}
			if len(id) != idLen || !validID(id) {
				t.Fatalf("newID() = %q: not 22 base62 characters", id)
			}
			if seen[id] {
				t.Fatalf("newID() returned %q twice", id)
			}
			seen[id] = true
		}
	})
}

func TestValidID(t *testing.T) {
	cases := []struct {
		id   string
		want bool
	}{
		{"8GjMyrJDkLwmnvKg9N1bzS", true},
		{"0000000000000000000000", true},
		{"45d405ef-5c52-46c1-86d2-2d270c5b1b19", true},
		{"", false},
		{"8GjMyrJDkLwmnvKg9N1bz", false},   // 21
		{"8GjMyrJDkLwmnvKg9N1bzSx", false}, // 23
		{"8GjMyrJDkLwmnvKg9N1bz-", false},
		{"8GjMyrJDkLwmnvKg9N1bz/", false},
		{"8GjMyrJDkLwmnvKg9N1bz\x00", false},
		{"45D405EF-5C52-46C1-86D2-2D270C5B1B19", false}, // Yopass's UUIDs are lowercase
		{"45d405ef05c52-46c1-86d2-2d270c5b1b19", false},
		{"45d405ef-5c52-46c1-86d2-2d270c5b1b1g", false},
		{"../../etc/passwd", false},
	}
	for _, c := range cases {
		if got := validID(c.id); got != c.want {
			t.Errorf("validID(%q) = %v, want %v", c.id, got, c.want)
		}
	}
}

func TestIDHash(t *testing.T) {
	id := "8GjMyrJDkLwmnvKg9N1bzS"
	h := idHash(id)
	if len(h) != 12 || strings.Contains(h, id) || h != idHash(id) || h == idHash("8GjMyrJDkLwmnvKg9N1bzT") {
		t.Fatalf("idHash(%q) = %q: want a stable 12-character hash", id, h)
	}
	if idHash("") != "" {
		t.Fatal("idHash of no id should be empty")
	}
}
