package redisstore

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/vigil-sh/vigil/server/store"
)

func TestCodec(t *testing.T) {
	t.Run("round-trips", func(t *testing.T) {
		for _, want := range []store.Secret{
			{Data: []byte("x"), TTL: time.Second},
			{Data: []byte{0xc3, 0, 0xff}, TTL: 604800 * time.Second, OneTime: true},
			{Data: nil, TTL: time.Hour, OneTime: true},
		} {
			secs, err := ttlSeconds(want.TTL)
			if err != nil {
				t.Fatal(err)
			}
			b := encode(want, secs)
			oneTime, err := decodeHeader(b[0])
			if err != nil || oneTime != want.OneTime {
				t.Fatalf("header of %+v: %v, %v", want, oneTime, err)
			}
			got, err := decode(b)
			if err != nil || !bytes.Equal(got.Data, want.Data) || got.TTL != want.TTL || got.OneTime != want.OneTime {
				t.Fatalf("decode(encode(%+v)) = %+v, %v", want, got, err)
			}
		}
	})
	t.Run("rejects-foreign-values", func(t *testing.T) {
		for _, b := range [][]byte{
			nil,
			[]byte("plain"),
			{0x20, 1},    // another format version
			{0x13, 1},    // unknown flag bits
			{0x10},       // no TTL
			{0x10, 0x80}, // truncated varint
			{0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, // TTL overflows a Duration
		} {
			if _, err := decode(b); !errors.Is(err, errCorrupt) {
				t.Fatalf("decode(%x): %v, want errCorrupt", b, err)
			}
		}
	})
}
