package api

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/bits"
)

// idLen is the length of a new id: 16 random bytes as a base62 number. 62^22
// is just above 2^130, so every 128-bit value fits once zero-padded.
const idLen = 22

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// newID returns a fresh id: 16 bytes of crypto/rand in base62, left-padded
// with '0' to 22 characters (the shape of Yopass's ids).
func newID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("read random id: %w", err)
	}
	return encodeBase62(b), nil
}

// encodeBase62 writes the 128-bit big-endian number b as 22 base62 digits.
func encodeBase62(b [16]byte) string {
	hi := binary.BigEndian.Uint64(b[:8])
	lo := binary.BigEndian.Uint64(b[8:])
	var out [idLen]byte
	for i := idLen - 1; i >= 0; i-- {
		// Long division of hi:lo by 62, one 64-bit word at a time.
		qhi, rhi := hi/62, hi%62
		qlo, r := bits.Div64(rhi, lo, 62)
		hi, lo = qhi, qlo
		out[i] = base62[r]
	}
	return string(out[:])
}

// validID reports whether id can name a secret: 22 base62 characters (ids
// this server and current Yopass make) or a lowercase UUID (older Yopass
// ids, still found in links). Anything else never reaches the store.
func validID(id string) bool {
	switch len(id) {
	case idLen:
		for i := 0; i < len(id); i++ {
			if !isBase62(id[i]) {
				return false
			}
		}
		return true
	case 36:
		return validUUID(id)
	}
	return false
}

func isBase62(c byte) bool {
	return '0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z'
}

// validUUID accepts the 8-4-4-4-12 lowercase hex form Yopass's router did.
func validUUID(id string) bool {
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
	}
	return true
}

// idHash is what logs show instead of an id: an id is a bearer capability,
// and a short hash still lets lines about one secret be matched up.
func idHash(id string) string {
	if id == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:6])
}
