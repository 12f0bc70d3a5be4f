package api

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

func TestParseSecretRequest(t *testing.T) {
	msg := testMessage(500)
	body := func(fields string) []byte { return []byte("{" + fields + "}") }
	msgField := `"message":` + string(mustJSON(msg))
	cases := []struct {
		name     string
		settings func(*Settings)
		body     []byte
		status   int
		message  string
		oneTime  bool
		ttl      time.Duration
	}{
		{name: "valid-one-time", body: body(msgField + `,"expiration":3600,"one_time":true`), oneTime: true, ttl: time.Hour},
		{name: "valid-week", body: body(msgField + `,"expiration":604800`), ttl: 7 * 24 * time.Hour},
		{name: "unknown-fields-ignored", body: body(msgField + `,"expiration":86400,"shiny":[1,2]`), ttl: 24 * time.Hour},
		{name: "invalid-json", body: []byte(`{not json`), status: 400, message: msgBadJSON},
		{name: "trailing-garbage", body: append(body(msgField+`,"expiration":3600`), "x"...), status: 400, message: msgBadJSON},
		{name: "empty-body", body: nil, status: 400, message: msgBadJSON},
		{name: "expiration-as-string", body: body(msgField + `,"expiration":"3600"`), status: 400, message: msgBadJSON},
		{name: "one-time-as-string", body: body(msgField + `,"expiration":3600,"one_time":"true"`), status: 400, message: msgBadJSON},
		{name: "message-as-number", body: body(`"message":5,"expiration":3600`), status: 400, message: msgBadJSON},
		{name: "huge-expiration", body: body(msgField + `,"expiration":99999999999999999999`), status: 400, message: msgBadJSON},
		{name: "fractional-expiration", body: body(msgField + `,"expiration":3600.5`), status: 400, message: msgBadJSON},
		{name: "expiration-not-allowed", body: body(msgField + `,"expiration":123`), status: 400, message: msgBadExpiration},
		{name: "expiration-missing", body: body(msgField), status: 400, message: msgBadExpiration},
		{name: "negative-expiration", body: body(msgField + `,"expiration":-3600`), status: 400, message: msgBadExpiration},
		{name: "receipt-refused", body: body(msgField + `,"expiration":3600,"receipt":true`), status: 400, message: msgNoReceipts},
		{name: "require-auth-refused", body: body(msgField + `,"expiration":3600,"require_auth":true`), status: 400, message: msgNoAuth},
		{name: "force-one-time-rejects", settings: func(s *Settings) { s.ForceOneTime = true },
			body: body(msgField + `,"expiration":3600,"one_time":false`), status: 400, message: msgMustBeOneTime},
		{name: "force-one-time-accepts", settings: func(s *Settings) { s.ForceOneTime = true },
			body: body(msgField + `,"expiration":3600,"one_time":true`), oneTime: true, ttl: time.Hour},
		{name: "too-long", settings: func(s *Settings) { s.MaxLength = 100 },
			body: body(msgField + `,"expiration":3600`), status: 400, message: msgTooLong},
		{name: "not-pgp", body: body(`"message":"hello","expiration":3600`), status: 400, message: msgNotPGP},
		{name: "null-message", body: body(`"message":null,"expiration":3600`), status: 400, message: msgNotPGP},
		{name: "body-over-limit", settings: func(s *Settings) { s.MaxLength = 10 },
			body: bytes.Repeat([]byte(" "), secretBodyLimit(10)+1), status: 413, message: msgBodyTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := DefaultSettings()
			if c.settings != nil {
				c.settings(&s)
			}
			sec, cerr := parseSecretRequest(c.body, &s)
			if c.status != 0 {
				if cerr == nil || cerr.status != c.status || cerr.message != c.message {
					t.Fatalf("got %v, want %d %q", cerr, c.status, c.message)
				}
				return
			}
			if cerr != nil {
				t.Fatalf("refused: %v", cerr)
			}
			if string(sec.data) != msg || sec.oneTime != c.oneTime || sec.ttl != c.ttl {
				t.Fatalf("got one-time %v ttl %v, want %v %v", sec.oneTime, sec.ttl, c.oneTime, c.ttl)
			}
		})
	}
}

func TestParseFileRequest(t *testing.T) {
	data := skesk(64)
	good := fileHeaders{contentType: "application/octet-stream", expiration: "3600", oneTime: "true"}
	with := func(f func(*fileHeaders)) fileHeaders { h := good; f(&h); return h }
	cases := []struct {
		name     string
		settings func(*Settings)
		h        fileHeaders
		body     []byte
		status   int
		message  string
		oneTime  bool
	}{
		{name: "valid-one-time", h: good, body: data, oneTime: true},
		{name: "valid-not-one-time", h: with(func(h *fileHeaders) { h.oneTime = "" }), body: data},
		{name: "one-time-is-exactly-true", h: with(func(h *fileHeaders) { h.oneTime = "TRUE" }), body: data},
		{name: "content-type-with-params", h: with(func(h *fileHeaders) { h.contentType = "application/octet-stream; x=y" }), body: data, oneTime: true},
		{name: "legacy-skesk-gpg", h: good, body: readFixture(t, "gpg-symmetric.gpg"), oneTime: true},
		{name: "pkesk", h: good, body: []byte{0xc1, 1, 2}, oneTime: true},
		{name: "wrong-content-type", h: with(func(h *fileHeaders) { h.contentType = "text/plain" }), body: data, status: 400, message: msgNotOctetStream},
		{name: "no-content-type", h: with(func(h *fileHeaders) { h.contentType = "" }), body: data, status: 400, message: msgNotOctetStream},
		{name: "no-expiration", h: with(func(h *fileHeaders) { h.expiration = "" }), body: data, status: 400, message: msgNoExpiration},
		{name: "expiration-not-a-number", h: with(func(h *fileHeaders) { h.expiration = "1h" }), body: data, status: 400, message: msgBadExpiration},
		{name: "expiration-overflows", h: with(func(h *fileHeaders) { h.expiration = "4294970896" }), body: data, status: 400, message: msgBadExpiration},
		{name: "expiration-not-allowed", h: with(func(h *fileHeaders) { h.expiration = "60" }), body: data, status: 400, message: msgBadExpiration},
		{name: "receipt-refused", h: with(func(h *fileHeaders) { h.receipt = "true" }), body: data, status: 400, message: msgNoReceipts},
		{name: "require-auth-refused", h: with(func(h *fileHeaders) { h.requireAuth = "true" }), body: data, status: 400, message: msgNoAuth},
		{name: "force-one-time", settings: func(s *Settings) { s.ForceOneTime = true },
			h: with(func(h *fileHeaders) { h.oneTime = "false" }), body: data, status: 400, message: msgMustBeOneTime},
		{name: "too-large", settings: func(s *Settings) { s.MaxFileSize = 10 }, h: good, body: data, status: 413, message: msgFileTooLarge},
		{name: "empty", h: good, body: nil, status: 400, message: msgNotOpenPGP},
		{name: "armored-not-binary", h: good, body: []byte(testMessage(200)), status: 400, message: msgNotOpenPGP},
		{name: "literal-packet", h: good, body: []byte{0xcb, 1, 2}, status: 400, message: msgNotOpenPGP},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := DefaultSettings()
			if c.settings != nil {
				c.settings(&s)
			}
			sec, cerr := parseFileRequest(c.h, c.body, &s)
			if c.status != 0 {
				if cerr == nil || cerr.status != c.status || cerr.message != c.message {
					t.Fatalf("got %v, want %d %q", cerr, c.status, c.message)
				}
				return
			}
			if cerr != nil {
				t.Fatalf("refused: %v", cerr)
			}
			if !bytes.Equal(sec.data, c.body) || sec.oneTime != c.oneTime || sec.ttl != time.Hour {
				t.Fatalf("got one-time %v ttl %v, want %v 1h", sec.oneTime, sec.ttl, c.oneTime)
			}
		})
	}
}

func TestSecretBodyLimitFitsMaxLengthMessages(t *testing.T) {
	// A message of exactly MaxLength bytes, JSON-encoded as a client does,
	// must fit the body limit.
	s := DefaultSettings()
	msg := messageOfLength(s.MaxLength)
	body := secretJSON(msg, 3600, true)
	if len(msg) != s.MaxLength || len(body) > secretBodyLimit(s.MaxLength) {
		t.Fatalf("message %d bytes, body %d bytes, limit %d", len(msg), len(body), secretBodyLimit(s.MaxLength))
	}
	if _, cerr := parseSecretRequest(body, &s); cerr != nil {
		t.Fatalf("a MaxLength message was refused: %v", cerr)
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
