package api

import (
	"encoding/base64"
	"strings"
)

// The only armor block a text secret may be. Any other armor (a public key,
// a signature) would be a secret nobody can decrypt with the link's key.
const (
	armorBegin = "-----BEGIN PGP MESSAGE-----"
	armorEnd   = "-----END PGP MESSAGE-----"
)

// OpenPGP packet tags that can open an encrypted message (RFC 9580 5.1, 5.3):
// a public-key or a symmetric-key encrypted session key.
const (
	tagPKESK = 1
	tagSKESK = 3
)

// isEncryptedPacketStart reports whether b, the first byte of a binary
// OpenPGP message, is the header of a PKESK or SKESK packet, in either the
// new packet format (bit 6 set, tag in bits 5-0) or the legacy one (tag in
// bits 5-2). Bit 7 is always set in a packet header.
func isEncryptedPacketStart(b byte) bool {
	if b&0x80 == 0 {
		return false
	}
	tag := (b & 0x3c) >> 2
	if b&0x40 != 0 {
		tag = b & 0x3f
	}
	return tag == tagPKESK || tag == tagSKESK
}

// isArmoredMessage reports whether msg is one well-formed ASCII-armored PGP
// MESSAGE (RFC 9580 6.2) whose payload starts with an encrypted session key
// packet. Only surrounding whitespace is tolerated: no text before BEGIN or
// after END, armor headers ("Key: value") end at a blank line, the body is
// base64, and a "=XXXX" checksum line may close it (its value is not checked:
// RFC 9580 made the CRC optional and decoders stopped verifying it).
//
// This is input hygiene, not a security boundary: only the client can make
// sure the payload really is encrypted. It rejects truncated or mistaken
// input before the sender shares a link nobody can decrypt.
func isArmoredMessage(msg string) bool {
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
	if trimLine(lines[0]) != "" {
		return false
	}
	body, ok := skipArmorHeaders(lines[1:])
	if !ok {
		return false
	}
	payload, ok := decodeArmorBody(body)
	return ok && len(payload) > 0 && isEncryptedPacketStart(payload[0])
}

// skipArmorHeaders returns the lines after the blank line that ends the
// armor headers, or false if a header is malformed or the blank line is
// missing.
func skipArmorHeaders(lines []string) ([]string, bool) {
	for i, l := range lines {
		l = trimLine(l)
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
func decodeArmorBody(lines []string) ([]byte, bool) {
	var b64 strings.Builder
	for i, l := range lines {
		l = trimLine(l)
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
func trimLine(l string) string {
	return strings.TrimRight(l, " \t\r")
}
