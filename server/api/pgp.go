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
//
// It runs on every create, so it allocates nothing: the body is checked in
// chunks on the stack. TestArmorCheckAgrees and FuzzArmorCheck hold it to
// the straightforward version (split into lines, join, decode), which it
// replaced: that one cost 3.5 us and 4.3 KB per 1 KiB message.
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
	lines := lineIter{rest: strings.TrimSuffix(inner, "\n")}
	// The first line is what followed BEGIN on its own line: nothing.
	if first, _ := lines.next(); trimLine(first) != "" {
		return false
	}
	if !skipArmorHeaders(&lines) {
		return false
	}
	return armorBodyStartsEncrypted(&lines)
}

// lineIter yields the lines of a string split at "\n", as strings.Split
// would, without allocating them.
type lineIter struct {
	rest string
	done bool
}

func (it *lineIter) next() (string, bool) {
	if it.done {
		return "", false
	}
	line, rest, found := strings.Cut(it.rest, "\n")
	it.rest, it.done = rest, !found
	return line, true
}

// skipArmorHeaders consumes the lines up to and including the blank line
// that ends the armor headers; false if a header is malformed or the blank
// line is missing.
func skipArmorHeaders(lines *lineIter) bool {
	for {
		l, ok := lines.next()
		if !ok {
			return false
		}
		l = trimLine(l)
		if l == "" {
			return true
		}
		if k, _, ok := strings.Cut(l, ": "); !ok || k == "" {
			return false
		}
	}
}

// armorBodyStartsEncrypted reports whether the remaining lines are a valid
// armor body (base64 lines, then at most one checksum line: "=" and four
// base64 characters) whose payload starts with an encrypted session key
// packet.
//
// The base64 lines, joined, must decode as base64.StdEncoding.DecodeString
// decodes them: it skips '\r' (and '\n') anywhere, needs whole 4-character
// quanta, and allows padding only in the last one. They are fed through a
// buffer of whole quanta and decoded chunk by chunk; a chunk that ends in
// padding must be the last.
func armorBodyStartsEncrypted(lines *lineIter) bool {
	var (
		buf    [512]byte // base64 in; a multiple of 4
		out    [384]byte // 3/4 of buf
		n      int       // bytes in buf
		first  = -1      // the payload's first byte, once decoded
		padded bool      // a decoded chunk ended in padding
	)
	flush := func() bool {
		if padded {
			return false // data after the padding
		}
		k, err := base64.StdEncoding.Decode(out[:], buf[:n])
		if err != nil {
			return false
		}
		if first < 0 && k > 0 {
			first = int(out[0])
		}
		padded = k < n/4*3
		n = 0
		return true
	}
	for {
		l, ok := lines.next()
		if !ok {
			break
		}
		l = trimLine(l)
		if strings.HasPrefix(l, "=") {
			var sum [4]byte
			if _, more := lines.next(); more || len(l) != 5 { // the last line, and whole
				return false
			}
			copy(sum[:], l[1:])
			if _, err := base64.StdEncoding.Decode(out[:], sum[:]); err != nil {
				return false
			}
			break
		}
		for len(l) > 0 {
			if l[0] == '\r' {
				l = l[1:]
				continue
			}
			// Copy up to the next '\r' (rarely any) or until buf is full.
			run := l
			if i := strings.IndexByte(run, '\r'); i >= 0 {
				run = run[:i]
			}
			c := copy(buf[n:], run)
			n += c
			l = l[c:]
			if n == len(buf) && !flush() {
				return false
			}
		}
	}
	if n > 0 && !flush() { // Decode refuses a partial quantum
		return false
	}
	return first >= 0 && isEncryptedPacketStart(byte(first))
}

// trimLine drops the line ending and trailing blanks, which armor allows.
func trimLine(l string) string {
	for len(l) > 0 {
		switch l[len(l)-1] {
		case ' ', '\t', '\r':
			l = l[:len(l)-1]
		default:
			return l
		}
	}
	return l
}
