package api

import (
	"encoding/json"
	"mime"
	"net/http"
	"strconv"
	"time"
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
