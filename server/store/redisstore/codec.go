package redisstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/vigil-sh/vigil/server/store"
)

// A stored value is: one header byte, the TTL in seconds as a uvarint, then
// the ciphertext. The header comes first so that GETRANGE key 0 0 tells
// whether a secret is one-time without moving the ciphertext.
const (
	headerV1      = 0x10 // format version 1 in the high nibble
	headerOneTime = 0x01
	headerMask    = 0xf0
)

var (
	errCorrupt = errors.New("stored value is not a vigil secret")
	errTTL     = errors.New("ttl must be a positive whole number of seconds")
)

func encode(s store.Secret, ttlSeconds int64) []byte {
	var ttl [binary.MaxVarintLen64]byte
	n := binary.PutUvarint(ttl[:], uint64(ttlSeconds))
	b := make([]byte, 0, 1+n+len(s.Data))
	b = append(b, header(s.OneTime))
	b = append(b, ttl[:n]...)
	return append(b, s.Data...)
}

func header(oneTime bool) byte {
	if oneTime {
		return headerV1 | headerOneTime
	}
	return headerV1
}

// decodeHeader reports whether the header byte marks a one-time secret.
func decodeHeader(h byte) (oneTime bool, err error) {
	if h&headerMask != headerV1 || h&^(headerMask|headerOneTime) != 0 {
		return false, fmt.Errorf("%w (header 0x%02x)", errCorrupt, h)
	}
	return h&headerOneTime != 0, nil
}

func decode(b []byte) (store.Secret, error) {
	if len(b) == 0 {
		return store.Secret{}, fmt.Errorf("%w (empty)", errCorrupt)
	}
	oneTime, err := decodeHeader(b[0])
	if err != nil {
		return store.Secret{}, err
	}
	ttl, n := binary.Uvarint(b[1:])
	if n <= 0 || ttl > uint64(maxTTLSeconds) {
		return store.Secret{}, fmt.Errorf("%w (bad TTL)", errCorrupt)
	}
	return store.Secret{Data: b[1+n:], TTL: time.Duration(ttl) * time.Second, OneTime: oneTime}, nil
}

// maxTTLSeconds keeps TTL*time.Second from overflowing a time.Duration.
const maxTTLSeconds = int64(1<<63-1) / int64(time.Second)

// ttlSeconds checks that ttl is a whole number of seconds, as SET EX takes.
func ttlSeconds(ttl time.Duration) (int64, error) {
	if ttl < time.Second || ttl%time.Second != 0 {
		return 0, fmt.Errorf("ttl %v: %w", ttl, errTTL)
	}
	return int64(ttl / time.Second), nil
}
