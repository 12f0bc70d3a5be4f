package api

import (
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
