package api

import (
	"encoding/json"
	"mime"
	"slices"
	"testing"
	"time"
	"unicode/utf8"
)

// fuzzSettings are the settings each fuzz input is checked against: the
// defaults, and a strict server with small limits and forced one-time.
func fuzzSettings() []Settings {
	strict := DefaultSettings()
	strict.MaxLength = 600
	strict.MaxFileSize = 64
	strict.ForceOneTime = true
	strict.Expirations = []int{60, 3600}
	strict.DefaultExpiry = 60
	return []Settings{DefaultSettings(), strict}
}

// FuzzCreateSecret checks that parsing a /create/secret body never panics,
// refuses with a 4xx and a message, and accepts only what the rules allow.
// Each input is also tried as the message itself, wrapped in a valid body,
// so that the fuzzer reaches the armor parser without having to get the
// JSON right first. Seeds: testdata/fuzz/FuzzCreateSecret.
func FuzzCreateSecret(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		checkAsMessage(t, body)
		for _, s := range fuzzSettings() {
			sec, cerr := parseSecretRequest(body, &s)
			if cerr != nil {
				if (cerr.status != 400 && cerr.status != 413) || cerr.message == "" {
					t.Fatalf("refusal %d %q", cerr.status, cerr.message)
				}
				continue
			}
			checkAccepted(t, &s, sec, len(sec.data) <= s.MaxLength)
			if !json.Valid(body) {
				t.Fatalf("accepted a body that is not JSON: %q", body)
			}
			if !isArmoredMessage(string(sec.data)) {
				t.Fatalf("accepted a message that is not an armored PGP message: %q", sec.data)
			}
		}
	})
}

// FuzzCreateFile does the same for /create/file's headers and body.
// Seeds: testdata/fuzz/FuzzCreateFile.
func FuzzCreateFile(f *testing.F) {
	f.Fuzz(func(t *testing.T, contentType, expiration, oneTime string, body []byte) {
		h := fileHeaders{contentType: contentType, expiration: expiration, oneTime: oneTime}
		for _, s := range fuzzSettings() {
			sec, cerr := parseFileRequest(h, body, &s)
			if cerr != nil {
				if (cerr.status != 400 && cerr.status != 413) || cerr.message == "" {
					t.Fatalf("refusal %d %q", cerr.status, cerr.message)
				}
				continue
			}
			checkAccepted(t, &s, sec, len(sec.data) <= s.MaxFileSize)
			if len(sec.data) == 0 || !isEncryptedPacketStart(sec.data[0]) {
				t.Fatalf("accepted a body that does not open with PKESK or SKESK: %x", sec.data[:min(len(sec.data), 8)])
			}
			if mt, _, err := mime.ParseMediaType(contentType); err != nil || mt != "application/octet-stream" {
				t.Fatalf("accepted Content-Type %q", contentType)
			}
			if sec.oneTime != (oneTime == "true") {
				t.Fatalf("X-Yopass-OneTime %q gave one-time %v", oneTime, sec.oneTime)
			}
		}
	})
}

// checkAsMessage sends raw as the message of an otherwise valid request: it
// must be accepted exactly when it is an armored message within MaxLength.
func checkAsMessage(t *testing.T, raw []byte) {
	if !utf8.Valid(raw) {
		return // JSON cannot carry it unchanged
	}
	s := DefaultSettings()
	msg := string(raw)
	body, err := json.Marshal(secretRequest{Message: msg, Expiration: 3600, OneTime: true})
	if err != nil {
		t.Fatal(err)
	}
	sec, cerr := parseSecretRequest(body, &s)
	if cerr != nil && cerr.status == 413 {
		return // escaping made the body longer than any real client's
	}
	want := len(msg) <= s.MaxLength && isArmoredMessage(msg)
	if (cerr == nil) != want {
		t.Fatalf("message %q: refusal %v, want accepted=%v", msg, cerr, want)
	}
	if cerr == nil && string(sec.data) != msg {
		t.Fatalf("stored %q, sent %q", sec.data, msg)
	}
}

// checkAccepted holds for every accepted secret, whatever its route.
func checkAccepted(t *testing.T, s *Settings, sec newSecret, withinLimit bool) {
	t.Helper()
	if !withinLimit {
		t.Fatalf("accepted %d bytes over the limit", len(sec.data))
	}
	if sec.ttl%time.Second != 0 || !slices.Contains(s.Expirations, int(sec.ttl/time.Second)) {
		t.Fatalf("accepted lifetime %v, allowed %v", sec.ttl, s.Expirations)
	}
	if s.ForceOneTime && !sec.oneTime {
		t.Fatal("accepted a secret that is not one-time on a force-one-time server")
	}
}
