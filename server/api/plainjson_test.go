package api

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
)

// The JSON fast paths (decodePlainSecretRequest, appendPlainSecretBody) must
// never drift from encoding/json: every body the decoder accepts decodes to
// what json.Unmarshal gives, every body it refuses gets the same answer
// from parseSecretRequest as the encoding/json-only version had, and every
// message the encoder writes is byte for byte what json.Marshal writes.

// parseSecretRequestBefore is parseSecretRequest as it was before the fast
// path: json.Unmarshal alone. The differential tests compare with it.
func parseSecretRequestBefore(body []byte, s *Settings) (newSecret, *clientError) {
	if len(body) > secretBodyLimit(s.MaxLength) {
		return newSecret{}, &clientError{413, msgBodyTooLarge}
	}
	var req secretRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return newSecret{}, badRequest(msgBadJSON)
	}
	oneTime, cerr := checkPolicy(s, int64(req.Expiration), req.OneTime, req.RequireAuth, req.Receipt)
	if cerr != nil {
		return newSecret{}, cerr
	}
	if len(req.Message) > s.MaxLength {
		return newSecret{}, badRequest(msgTooLong)
	}
	if !isArmoredMessage(req.Message) {
		return newSecret{}, badRequest(msgNotPGP)
	}
	return newSecret{data: []byte(req.Message), ttl: seconds(req.Expiration), oneTime: oneTime}, nil
}

// checkDecodeAgrees checks one body against encoding/json and reports
// whether the fast path took it.
func checkDecodeAgrees(t *testing.T, body []byte) bool {
	t.Helper()
	fast, ok := decodePlainSecretRequest(body)
	var slow secretRequest
	slowErr := json.Unmarshal(body, &slow)
	if ok && (slowErr != nil || fast != slow) {
		t.Fatalf("body %q: fast path %+v, encoding/json %+v (error %v)", body, fast, slow, slowErr)
	}
	got, err := decodeSecretRequest(body)
	if (err == nil) != (slowErr == nil) || (err == nil && got != slow) {
		t.Fatalf("body %q: decodeSecretRequest %+v (error %v), encoding/json %+v (error %v)", body, got, err, slow, slowErr)
	}
	for _, s := range fuzzSettings() {
		sec, cerr := parseSecretRequest(body, &s)
		want, wantErr := parseSecretRequestBefore(body, &s)
		switch {
		case (cerr == nil) != (wantErr == nil):
			t.Fatalf("body %q: answer %v, before the fast path %v", body, cerr, wantErr)
		case cerr != nil && *cerr != *wantErr:
			t.Fatalf("body %q: answer %d %q, before the fast path %d %q", body, cerr.status, cerr.message, wantErr.status, wantErr.message)
		case cerr == nil && (!bytes.Equal(sec.data, want.data) || sec.ttl != want.ttl || sec.oneTime != want.oneTime):
			t.Fatalf("body %q: secret %+v, before the fast path %+v", body, sec, want)
		}
	}
	return ok
}

// TestPlainDecoderAgrees builds bodies from pieces chosen to sit on each
// edge of the fast path (case-folded and escaped keys, \u escapes, non-ASCII,
// control characters, numbers at the int32 and nine-digit limits, leading
// zeros, -0, floats, null, nested values, duplicates, trailing garbage) and
// checks every one against encoding/json. The generator is seeded, so a
// failure reproduces.
func TestPlainDecoderAgrees(t *testing.T) {
	keys := []string{`"message"`, `"expiration"`, `"one_time"`, `"require_auth"`, `"receipt"`,
		`"Message"`, `"ONE_TIME"`, `"Expiration"`, `"x"`, `"mess\u0061ge"`, `"me\/ssage"`, `"one_time "`,
		`"receip"`, `"meſsage"`, `"expiratıon"`, `""`, `"\n"`, `"oneTime"`, `"k\"ey"`, `"receipt\t"`, `"é"`}
	vals := []string{`"abc"`, `"a\nb\\c\/d\"e"`, `""`, `"\u0041"`, `"\ud83d\ude00"`, `"\x"`, `"é"`, "\"\x01\"",
		"\"\x7f\"", "\"\xff\"", `0`, `-0`, `1`, `-1`, `3600`, `012`, `999999999`, `-999999999`, `1000000000`,
		`2147483647`, `2147483648`, `-2147483648`, `1.5`, `1e3`, `1E3`, `-`, `true`, `false`, `null`, `tru`,
		`nul`, `[]`, `{}`, `[1,"a"]`, `{"a":1}`, `"\b\f\r\t"`, `truefalse`, `"unterminated`, `3600.`, `1e`,
		`+1`, `"` + testMessage(60) + `"`, strings.ReplaceAll(`"`+testMessage(60)+`"`, "\n", `\n`)}
	ws := []string{"", "", " ", "\n", "\t", "\r\n ", "\v", "\u00a0"}
	tails := []string{"x", "{}", ",", "\x00", "}", " "}
	r := rand.New(rand.NewPCG(1, 2))
	pick := func(xs []string) string { return xs[r.IntN(len(xs))] }
	n := 12000
	if testing.Short() {
		n = 3000
	}
	accepted := 0
	for i := 0; i < n; i++ {
		var b strings.Builder
		b.WriteString(pick(ws) + "{")
		for f := range r.IntN(5) {
			if f > 0 {
				b.WriteString(pick(ws) + "," + pick(ws))
			}
			b.WriteString(pick(ws) + pick(keys) + pick(ws) + ":" + pick(ws) + pick(vals) + pick(ws))
		}
		b.WriteString("}" + pick(ws))
		if r.IntN(20) == 0 {
			b.WriteString(pick(tails))
		}
		if checkDecodeAgrees(t, []byte(b.String())) {
			accepted++
		}
	}
	// Both sides of the fast path must be exercised for the test to mean
	// anything.
	if accepted < n/20 || accepted > n-n/20 {
		t.Fatalf("the fast path took %d of %d bodies; the generator no longer tests both sides", accepted, n)
	}
	t.Logf("the fast path took %d of %d bodies", accepted, n)
}

// TestPlainDecoderTakesClientBodies: the bodies real clients send (Yopass's
// CLI and web client: json.Marshal or JSON.stringify of an armored message)
// take the fast path, or it would quietly stop paying for itself.
func TestPlainDecoderTakesClientBodies(t *testing.T) {
	asc, err := os.ReadFile("testdata/gpg-symmetric.asc")
	if err != nil {
		t.Fatal(err)
	}
	messages := []string{string(asc), testMessage(10), testMessage(1100), testMessage(9000)}
	for _, msg := range messages {
		for _, body := range []any{
			map[string]any{"message": msg, "expiration": 604800, "one_time": true},
			map[string]any{"expiration": 3600, "message": msg, "one_time": false, "require_auth": false},
			secretRequest{Message: msg, Expiration: 86400},
		} {
			b, err := json.Marshal(body)
			if err != nil {
				t.Fatal(err)
			}
			if !checkDecodeAgrees(t, b) {
				t.Fatalf("the fast path refused a client body: %.200q", b)
			}
			indented, _ := json.MarshalIndent(body, "", "  ")
			if !checkDecodeAgrees(t, indented) {
				t.Fatalf("the fast path refused an indented client body: %.200q", indented)
			}
		}
	}
}

// FuzzPlainDecoder checks the same agreement on fuzzed bodies. Seeds: the
// create-secret corpus and the cases below.
func FuzzPlainDecoder(f *testing.F) {
	for _, s := range []string{`{}`, ` {"message":"a\nb","expiration":-5,"x":null,"y":"z","one_time":false} `,
		`{"message":"a","message":"b"}`, `{"Message":"a"}`, `{"expiration":0}`, `{"expiration":-0}`,
		`{"expiration":012}`, `{"x":1.5}`, `{"x":[1]}`, `{"receipt":true,"require_auth":false}`,
		`{"message":"\u0041"}`, `{"a":"\/\b\f\r\t\\\""}`, `{"expiration":999999999}`,
		`{"expiration":2147483647}`, `{"one_time":truex}`, `{"k":nul}`, "{\"m\":\"\x7f\"}", `{"meſsage":"a"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) { checkDecodeAgrees(t, body) })
}

// checkEncodeAgrees checks appendPlainSecretBody against json.Marshal for
// one secret: byte for byte when it takes the data, and it must take every
// armored (printable ASCII, line breaks and tabs) message.
func checkEncodeAgrees(t *testing.T, data []byte, expiration int64, oneTime bool) {
	t.Helper()
	want, err := json.Marshal(secretBody{Message: string(data), Expiration: expiration, OneTime: oneTime})
	if err != nil {
		t.Fatal(err)
	}
	got, ok := appendPlainSecretBody(nil, data, expiration, oneTime)
	if ok && !bytes.Equal(got, want) {
		t.Fatalf("data %q: fast path %s, json.Marshal %s", data, got, want)
	}
	if !ok && isPlainText(data) {
		t.Fatalf("the fast path refused plain text %q", data)
	}
}

// isPlainText is what appendPlainSecretBody must take: bytes json.Marshal
// writes as they are, or as a two-character escape.
func isPlainText(b []byte) bool {
	for _, c := range b {
		if (c < 0x20 && c != '\n' && c != '\r' && c != '\t') || c >= 0x80 || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

func TestPlainEncoderAgrees(t *testing.T) {
	alphabet := []string{"a", "Z", "0", "+", "/", "=", " ", "-", "\n", "\r", "\t", `"`, `\`, "<", ">", "&",
		"\x00", "\x01", "\b", "\f", "\x1f", "\x7f", "é", "\u2028", "\u2029", "\xff", "\xc3"}
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 5000; i++ {
		var b strings.Builder
		for range r.IntN(40) {
			// Mostly plain characters, so that plain strings are common.
			if r.IntN(4) == 0 {
				b.WriteString(alphabet[r.IntN(len(alphabet))])
			} else {
				b.WriteString(alphabet[r.IntN(16)])
			}
		}
		checkEncodeAgrees(t, []byte(b.String()), int64(r.IntN(700000))-1000, r.IntN(2) == 0)
	}
	asc, err := os.ReadFile("testdata/gpg-symmetric.asc")
	if err != nil {
		t.Fatal(err)
	}
	for _, msg := range []string{string(asc), testMessage(1100), "", strings.ReplaceAll(testMessage(300), "\n", "\r\n")} {
		checkEncodeAgrees(t, []byte(msg), 3600, true)
	}
}

func FuzzPlainEncoder(f *testing.F) {
	for _, s := range []string{testMessage(300), "", "a\"b\\c\n\r\t\x7f", "<&>", "é", "\x00\b\f", "\u2028"} {
		f.Add([]byte(s), int64(3600), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, expiration int64, oneTime bool) {
		checkEncodeAgrees(t, data, expiration, oneTime)
	})
}

// BenchmarkDecodeSecretRequest compares the fast path with encoding/json
// on a typical body (a ~1.1 KiB armored message).
func BenchmarkDecodeSecretRequest(b *testing.B) {
	body, err := json.Marshal(secretRequest{Message: testMessage(1100), Expiration: 3600, OneTime: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("fast-path", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeSecretRequest(body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var req secretRequest
			if err := json.Unmarshal(body, &req); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkEncodeSecretBody compares the fast path with json.Marshal on the
// answer to a read of a typical secret.
func BenchmarkEncodeSecretBody(b *testing.B) {
	data := []byte(testMessage(1100))
	b.Run("fast-path", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := appendPlainSecretBody(nil, data, 3600, true); !ok {
				b.Fatal("refused")
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(secretBody{Message: string(data), Expiration: 3600, OneTime: true}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
