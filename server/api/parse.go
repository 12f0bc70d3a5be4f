package api

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Client-visible messages of the create routes. They are Yopass's, word for
// word, because its CLI and web client show them to people.
const (
	msgBadJSON        = "Unable to parse json"
	msgBadExpiration  = "Invalid expiration specified"
	msgMustBeOneTime  = "Secret must be one time download"
	msgTooLong        = "The encrypted message is too long"
	msgNotPGP         = "Message must be PGP encrypted"
	msgBodyTooLarge   = "Request body too large"
	msgFileTooLarge   = "File too large"
	msgNotOpenPGP     = "Invalid data: not an OpenPGP message"
	msgNoExpiration   = "X-Yopass-Expiration header required"
	msgNotOctetStream = "Content-Type must be application/octet-stream"
	msgNoAuth         = "Authentication not configured on this server"
	msgNoReceipts     = "Read receipts are not enabled on this server"
)

// clientError is a request the API refuses, with the status and message
// the client gets.
type clientError struct {
	status  int
	message string
}

func (e *clientError) Error() string { return strconv.Itoa(e.status) + " " + e.message }

func badRequest(msg string) *clientError { return &clientError{http.StatusBadRequest, msg} }

// newSecret is a validated create request, ready for the store.
type newSecret struct {
	data    []byte
	ttl     time.Duration
	oneTime bool
}

// secretRequest is the JSON body of POST /create/secret. Unknown fields are
// ignored, as Yopass's decoder does. RequireAuth and Receipt are Yopass
// features this server does not have; asking for them is refused rather
// than silently dropped, exactly as Yopass refuses them when they are off.
type secretRequest struct {
	Message     string `json:"message"`
	Expiration  int32  `json:"expiration"`
	OneTime     bool   `json:"one_time"`
	RequireAuth bool   `json:"require_auth"`
	Receipt     bool   `json:"receipt"`
}

// secretBodyLimit is the most a /create/secret body may hold for messages of
// up to maxLength bytes: JSON escapes each armor line break (one per 64
// characters) as two bytes, and the other fields need a little room. It is
// Yopass's own formula, so a body Yopass takes is taken here.
func secretBodyLimit(maxLength int) int {
	return maxLength + maxLength/64 + 4096
}

// parseSecretRequest validates the body of POST /create/secret against s.
// Checks run in Yopass's order, so a request with several problems gets the
// same answer from both servers.
func parseSecretRequest(body []byte, s *Settings) (newSecret, *clientError) {
	if len(body) > secretBodyLimit(s.MaxLength) {
		return newSecret{}, &clientError{http.StatusRequestEntityTooLarge, msgBodyTooLarge}
	}
	req, err := decodeSecretRequest(body)
	if err != nil {
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

// decodeSecretRequest decodes body into a secretRequest exactly as
// json.Unmarshal does (the same value, and an error for the same inputs),
// through decodePlainSecretRequest when it can.
func decodeSecretRequest(body []byte) (secretRequest, error) {
	if req, ok := decodePlainSecretRequest(body); ok {
		return req, nil
	}
	var req secretRequest
	err := json.Unmarshal(body, &req)
	return req, err
}

// decodePlainSecretRequest decodes body as json.Unmarshal would into a
// secretRequest, in one pass and without reflection, when body is in the
// plain form real clients send: an object whose keys are the field names
// exactly (or unknown keys), a message string of printable ASCII with the
// usual escapes (\n, \", ...), an integer expiration, and true or false.
// Anything else (a \u escape, non-ASCII, null, a key in another case, a
// nested value, invalid JSON) makes it return false, and the caller decodes
// with encoding/json, whose answer then stands. So it never accepts what
// encoding/json refuses nor decodes anything differently; it only spares the
// common body the reflection and the second scan. Decoding ~1 KiB bodies
// was about a sixth of the server's time per create.
func decodePlainSecretRequest(body []byte) (secretRequest, bool) {
	var req secretRequest
	d := plainDecoder{b: body}
	if !d.consume('{') {
		return req, false
	}
	if d.consume('}') {
		return req, d.atEnd()
	}
	for {
		key, ok := d.plainString()
		if !ok || !d.consume(':') || !d.field(&req, key) {
			return req, false
		}
		if d.consume('}') {
			return req, d.atEnd()
		}
		if !d.consume(',') {
			return req, false
		}
	}
}

// plainDecoder reads the plain JSON decodePlainSecretRequest accepts. Every
// method reports false for anything outside that form.
type plainDecoder struct {
	b []byte
	i int
}

// field decodes the value of key into req, or skips it for an unknown key.
func (d *plainDecoder) field(req *secretRequest, key []byte) bool {
	var ok bool
	switch string(key) {
	case "message":
		var msg []byte
		msg, ok = d.plainString()
		req.Message = string(msg)
	case "expiration":
		req.Expiration, ok = d.smallInt()
	case "one_time":
		req.OneTime, ok = d.boolean()
	case "require_auth":
		req.RequireAuth, ok = d.boolean()
	case "receipt":
		req.Receipt, ok = d.boolean()
	default:
		// encoding/json matches keys case-insensitively; only a key that
		// cannot match a field may be skipped here.
		return !mayNameField(key) && d.skipScalar()
	}
	return ok
}

// mayNameField reports whether key could name a field of secretRequest for
// encoding/json, which folds case (also Unicode's: "ſ" matches "s").
func mayNameField(key []byte) bool {
	for _, c := range key {
		if c >= utf8.RuneSelf {
			return true
		}
	}
	for _, name := range [...]string{"message", "expiration", "one_time", "require_auth", "receipt"} {
		if strings.EqualFold(string(key), name) {
			return true
		}
	}
	return false
}

// consume skips white space, then c if it is next.
func (d *plainDecoder) consume(c byte) bool {
	d.skipSpace()
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

// atEnd reports whether only white space is left.
func (d *plainDecoder) atEnd() bool {
	d.skipSpace()
	return d.i == len(d.b)
}

func (d *plainDecoder) skipSpace() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// plainString reads a string of printable ASCII whose escapes are single
// characters, and returns it unescaped (a subslice of the body when it has
// no escape).
func (d *plainDecoder) plainString() ([]byte, bool) {
	if !d.consume('"') {
		return nil, false
	}
	start := d.i
	d.skipPlain()
	if d.i < len(d.b) && d.b[d.i] == '"' {
		d.i++
		return d.b[start : d.i-1], true
	}
	return d.escapedString(start)
}

// skipPlain moves past characters that stand for themselves in a string.
func (d *plainDecoder) skipPlain() {
	for d.i < len(d.b) && plainByte[d.b[d.i]] {
		d.i++
	}
}

// plainByte marks the printable ASCII characters other than '"' and '\\'.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// escapedString continues plainString at the first character that is not
// plain, copying the string out as it unescapes it.
func (d *plainDecoder) escapedString(start int) ([]byte, bool) {
	out := make([]byte, 0, len(d.b)-start)
	for {
		out = append(out, d.b[start:d.i]...)
		if d.i+1 >= len(d.b) || d.b[d.i] != '\\' {
			break
		}
		e, ok := unescape(d.b[d.i+1])
		if !ok {
			return nil, false
		}
		out = append(out, e)
		d.i += 2
		start = d.i
		d.skipPlain()
	}
	if d.i < len(d.b) && d.b[d.i] == '"' {
		d.i++
		return out, true
	}
	return nil, false // a control character, non-ASCII, or no closing quote
}

// unescape returns the character a one-letter escape stands for; false for
// \u (left to encoding/json) and for what is not an escape.
func unescape(c byte) (byte, bool) {
	switch c {
	case '"', '\\', '/':
		return c, true
	case 'n':
		return '\n', true
	case 'r':
		return '\r', true
	case 't':
		return '\t', true
	case 'b':
		return '\b', true
	case 'f':
		return '\f', true
	}
	return 0, false
}

// smallInt reads an integer of at most nine digits, which fits an int32
// whatever its digits; it has no leading zero, as JSON requires.
func (d *plainDecoder) smallInt() (int32, bool) {
	d.skipSpace()
	neg := d.i < len(d.b) && d.b[d.i] == '-'
	if neg {
		d.i++
	}
	start := d.i
	var n int32
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		n = n*10 + int32(d.b[d.i]-'0')
		d.i++
	}
	digits := d.i - start
	if digits == 0 || digits > 9 || (digits > 1 && d.b[start] == '0') || (neg && n == 0) {
		return 0, false
	}
	if d.i < len(d.b) && (d.b[d.i] == '.' || d.b[d.i] == 'e' || d.b[d.i] == 'E') {
		return 0, false
	}
	if neg {
		n = -n
	}
	return n, true
}

// boolean reads true or false.
func (d *plainDecoder) boolean() (bool, bool) {
	d.skipSpace()
	switch rest := d.b[d.i:]; {
	case bytes.HasPrefix(rest, []byte("true")):
		d.i += len("true")
		return true, true
	case bytes.HasPrefix(rest, []byte("false")):
		d.i += len("false")
		return false, true
	}
	return false, false
}

// skipScalar skips the value of an unknown key: a plain string, true,
// false, null or a small integer. Objects, arrays and other numbers go to
// encoding/json.
func (d *plainDecoder) skipScalar() bool {
	d.skipSpace()
	if d.i == len(d.b) {
		return false
	}
	switch c := d.b[d.i]; {
	case c == '"':
		_, ok := d.plainString()
		return ok
	case c == 't' || c == 'f':
		_, ok := d.boolean()
		return ok
	case c == 'n':
		if bytes.HasPrefix(d.b[d.i:], []byte("null")) {
			d.i += len("null")
			return true
		}
		return false
	}
	_, ok := d.smallInt()
	return ok
}

// fileHeaders are the request headers POST /create/file reads.
type fileHeaders struct {
	contentType string
	expiration  string // X-Yopass-Expiration, seconds
	oneTime     string // X-Yopass-OneTime, "true" or anything else
	requireAuth string // X-Yopass-RequireAuth
	receipt     string // X-Yopass-Receipt
}

// parseFileRequest validates POST /create/file against s. The returned
// secret's data aliases body; the caller copies it if it must outlive the
// request.
func parseFileRequest(h fileHeaders, body []byte, s *Settings) (newSecret, *clientError) {
	if mt, _, err := mime.ParseMediaType(h.contentType); err != nil || mt != "application/octet-stream" {
		return newSecret{}, badRequest(msgNotOctetStream)
	}
	if h.expiration == "" {
		return newSecret{}, badRequest(msgNoExpiration)
	}
	exp, err := strconv.ParseInt(h.expiration, 10, 32)
	if err != nil {
		return newSecret{}, badRequest(msgBadExpiration)
	}
	oneTime, cerr := checkPolicy(s, exp, h.oneTime == "true", h.requireAuth == "true", h.receipt == "true")
	if cerr != nil {
		return newSecret{}, cerr
	}
	if len(body) > s.MaxFileSize {
		return newSecret{}, &clientError{http.StatusRequestEntityTooLarge, msgFileTooLarge}
	}
	if len(body) == 0 || !isEncryptedPacketStart(body[0]) {
		return newSecret{}, badRequest(msgNotOpenPGP)
	}
	return newSecret{data: body, ttl: seconds(int32(exp)), oneTime: oneTime}, nil
}

// checkPolicy applies the server policy shared by both create routes and
// returns whether the secret is one-time. Like Yopass, ForceOneTime rejects
// a request that is not one-time instead of quietly making it one.
func checkPolicy(s *Settings, expiration int64, oneTime, requireAuth, receipt bool) (bool, *clientError) {
	switch {
	case receipt:
		return false, badRequest(msgNoReceipts)
	case !s.allowsExpiration(expiration):
		return false, badRequest(msgBadExpiration)
	case requireAuth:
		return false, badRequest(msgNoAuth)
	case s.ForceOneTime && !oneTime:
		return false, badRequest(msgMustBeOneTime)
	}
	return oneTime, nil
}

func seconds(n int32) time.Duration { return time.Duration(n) * time.Second }
