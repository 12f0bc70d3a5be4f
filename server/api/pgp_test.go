package api

import (
	"encoding/base64"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestIsEncryptedPacketStart(t *testing.T) {
	cases := []struct {
		name string
		b    byte
		want bool
	}{
		{"new-format-skesk", 0xc3, true},
		{"new-format-pkesk", 0xc1, true},
		{"legacy-skesk", 0x8c, true},      // gpg --symmetric: 10 0011 00
		{"legacy-skesk-len1", 0x8d, true}, // length type in the low bits
		{"legacy-pkesk", 0x84, true},
		{"legacy-pkesk-len2", 0x85, true},
		{"new-format-literal", 0xcb, false},
		{"new-format-seipd", 0xd2, false},
		{"legacy-literal", 0xac, false},
		{"legacy-compressed", 0xa3, false},
		{"no-packet-bit", 0x03, false},
		{"ascii-dash", '-', false},
		{"zero", 0x00, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := isEncryptedPacketStart(c.b); got != c.want {
				t.Fatalf("isEncryptedPacketStart(%#x) = %v, want %v", c.b, got, c.want)
			}
		})
	}
}

func TestIsArmoredMessage(t *testing.T) {
	valid := armor(skesk(100))
	cases := []struct {
		name string
		msg  string
		want bool
	}{
		{"openpgpjs-style", valid, true},
		{"gpg-fixture", string(readFixture(t, "gpg-symmetric.asc")), true},
		{"crlf-line-endings", strings.ReplaceAll(valid, "\n", "\r\n"), true},
		{"surrounding-whitespace", "\n  " + valid + "\n\n", true},
		{"no-headers", "-----BEGIN PGP MESSAGE-----\n\nwy4ECQ==\n-----END PGP MESSAGE-----", true},
		{"no-checksum", strings.Replace(valid, "=AAAA\n", "", 1), true},
		{"trailing-blanks-on-lines", strings.ReplaceAll(valid, "\n", " \t\n"), true},
		{"empty", "", false},
		{"plaintext", "hello world", false},
		{"text-before-begin", "hi\n" + valid, false},
		{"text-after-end", valid + "bye", false},
		{"public-key-block", strings.ReplaceAll(valid, "PGP MESSAGE", "PGP PUBLIC KEY BLOCK"), false},
		{"no-end", strings.TrimSuffix(valid, "-----END PGP MESSAGE-----\n"), false},
		{"end-not-on-own-line", strings.Replace(valid, "=AAAA\n-----END", "=AAAA-----END", 1), false},
		{"missing-blank-line", strings.Replace(valid, "invalid\n\n", "invalid\n", 1), false},
		{"bad-header", strings.Replace(valid, "Comment: ", "Comment", 1), false},
		{"bad-base64", strings.Replace(valid, "w1p", "w!p", 1), false},
		{"empty-body", "-----BEGIN PGP MESSAGE-----\n\n-----END PGP MESSAGE-----", false},
		{"checksum-not-last", strings.Replace(valid, "=AAAA\n", "=AAAA\nwy4E\n", 1), false},
		{"bad-checksum-length", strings.Replace(valid, "=AAAA\n", "=AAAAA\n", 1), false},
		{"literal-packet-not-encrypted", armor([]byte{0xcb, 0x01, 0x02}), false},
		{"begin-line-junk", strings.Replace(valid, "MESSAGE-----\n", "MESSAGE----- x\n", 1), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := isArmoredMessage(c.msg); got != c.want {
				t.Fatalf("isArmoredMessage(%q) = %v, want %v", c.msg, got, c.want)
			}
		})
	}
}

// isArmoredMessageBefore is isArmoredMessage as it was before it stopped
// allocating: split into lines, join the base64, decode it whole. The
// differential tests hold the current one to it.
func isArmoredMessageBefore(msg string) bool {
	s := strings.TrimSpace(msg)
	rest, ok := strings.CutPrefix(s, armorBegin)
	if !ok {
		return false
	}
	inner, ok := strings.CutSuffix(rest, armorEnd)
	if !ok || !strings.HasSuffix(inner, "\n") {
		return false
	}
	lines := strings.Split(strings.TrimSuffix(inner, "\n"), "\n")
	// lines[0] is what followed BEGIN on its own line: nothing.
	if trimLineBefore(lines[0]) != "" {
		return false
	}
	body, ok := skipArmorHeadersBefore(lines[1:])
	if !ok {
		return false
	}
	payload, ok := decodeArmorBodyBefore(body)
	return ok && len(payload) > 0 && isEncryptedPacketStart(payload[0])
}

// skipArmorHeaders returns the lines after the blank line that ends the
// armor headers, or false if a header is malformed or the blank line is
// missing.
func skipArmorHeadersBefore(lines []string) ([]string, bool) {
	for i, l := range lines {
		l = trimLineBefore(l)
		if l == "" {
			return lines[i+1:], true
		}
		if k, _, ok := strings.Cut(l, ": "); !ok || k == "" {
			return nil, false
		}
	}
	return nil, false
}

// decodeArmorBody decodes the base64 lines of an armor body, allowing one
// checksum line ("=" and four base64 characters) as the last line.
func decodeArmorBodyBefore(lines []string) ([]byte, bool) {
	var b64 strings.Builder
	for i, l := range lines {
		l = trimLineBefore(l)
		if strings.HasPrefix(l, "=") {
			if i != len(lines)-1 || len(l) != 5 {
				return nil, false
			}
			if _, err := base64.StdEncoding.DecodeString(l[1:]); err != nil {
				return nil, false
			}
			break
		}
		b64.WriteString(l)
	}
	payload, err := base64.StdEncoding.DecodeString(b64.String())
	if err != nil {
		return nil, false
	}
	return payload, true
}

// trimLine drops the line ending and trailing blanks, which armor allows.
func trimLineBefore(l string) string {
	return strings.TrimRight(l, " \t\r")
}

func checkArmorAgrees(t *testing.T, msg string) {
	t.Helper()
	if got, want := isArmoredMessage(msg), isArmoredMessageBefore(msg); got != want {
		t.Fatalf("isArmoredMessage(%q) = %v, the reference says %v", msg, got, want)
	}
}

// TestArmorCheckAgrees mutates valid messages of several sizes (around the
// 512-byte chunk the check decodes by) one or a few bytes at a time, with
// the characters that matter to armor and base64.
func TestArmorCheckAgrees(t *testing.T) {
	alphabet := []string{"=", "==", "\r", "\n", " ", "\t", "A", "/", "+", "!", ":", ": ", "-", "\n\n", "\r\n", "=\n", "\xc3"}
	r := rand.New(rand.NewPCG(5, 6))
	var bases []string
	for _, n := range []int{1, 2, 3, 4, 100, 383, 384, 385, 386, 767, 768, 769, 1000} {
		bases = append(bases, armor(skesk(n)))
	}
	bases = append(bases, string(readFixture(t, "gpg-symmetric.asc")))
	accepted := 0
	for _, base := range bases {
		checkArmorAgrees(t, base)
		checkArmorAgrees(t, strings.ReplaceAll(base, "\n", "\r\n"))
		for range 3000 {
			b := []byte(base)
			for range 1 + r.IntN(3) {
				i := r.IntN(len(b) + 1)
				ins := alphabet[r.IntN(len(alphabet))]
				switch r.IntN(3) {
				case 0: // insert
					b = append(b[:i], append([]byte(ins), b[i:]...)...)
				case 1: // delete
					if i < len(b) {
						b = append(b[:i], b[i+1:]...)
					}
				default: // replace
					if i < len(b) {
						b[i] = ins[0]
					}
				}
			}
			checkArmorAgrees(t, string(b))
			if isArmoredMessage(string(b)) {
				accepted++
			}
		}
	}
	// Mutations must exercise both answers, or the test proves little.
	if accepted == 0 {
		t.Fatal("no mutated message was accepted")
	}
}

// FuzzArmorCheck checks the same agreement on fuzzed messages.
func FuzzArmorCheck(f *testing.F) {
	f.Add(armor(skesk(100)))
	f.Add(armor(skesk(400)))
	f.Add("-----BEGIN PGP MESSAGE-----\n\nwy4ECQ==\n-----END PGP MESSAGE-----")
	f.Add("-----BEGIN PGP MESSAGE-----\n\nwy4E\r\nCQ=\r=\n=AAAA\n-----END PGP MESSAGE-----")
	f.Add("-----BEGIN PGP MESSAGE-----\nA: b\n\nwy4=wy4E\n-----END PGP MESSAGE-----\n")
	f.Fuzz(func(t *testing.T, msg string) { checkArmorAgrees(t, msg) })
}

func BenchmarkIsArmoredMessage(b *testing.B) {
	msg := testMessage(1100)
	b.ReportAllocs()
	for b.Loop() {
		if !isArmoredMessage(msg) {
			b.Fatal("refused")
		}
	}
}
