package api

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"time"
)

// Limits that keep a whole request body (held in memory and written to the
// store in one piece) within reason. They are sanity bounds, not tuning.
const (
	maxMaxLength   = 16 << 20
	maxMaxFileSize = 256 << 20
	maxExpiration  = 365 * 24 * 60 * 60
)

// Settings is everything about the API that can change while it serves
// (SetSettings swaps them atomically, for example on SIGHUP).
type Settings struct {
	// MaxLength is the longest armored message /create/secret accepts, in
	// bytes (Yopass's max-length, default 10000).
	MaxLength int
	// MaxFileSize is the largest body /create/file accepts, in bytes
	// (Yopass's max-file-size, default 512 KiB).
	MaxFileSize int
	// Expirations are the lifetimes, in seconds, a client may ask for.
	Expirations []int
	// DefaultExpiry is the lifetime the web client preselects; it must be
	// one of Expirations.
	DefaultExpiry int
	// ForceOneTime rejects secrets and files that are not one-time, as
	// Yopass's force-onetime-secrets does.
	ForceOneTime bool
	// ReadOnly turns the create routes off (they answer 404, as in Yopass,
	// where they are not registered). Reads and deletes keep working.
	ReadOnly bool
	// DisableUpload turns every /create/file and /file route off (404, as
	// in Yopass).
	DisableUpload bool
	// PrefetchSecret is reported in /config; when false the status routes
	// are off (404), as in Yopass.
	PrefetchSecret bool
	// CORSOrigin is sent as Access-Control-Allow-Origin: "" sends no CORS
	// headers at all, "*" allows any origin, otherwise one origin such as
	// "https://secrets.example.com".
	CORSOrigin string
	// ReadTimeout bounds reading one request body; zero leaves the
	// server's own timeout in force.
	ReadTimeout time.Duration
	// WriteTimeout bounds writing one response; zero leaves the server's
	// own timeout in force.
	WriteTimeout time.Duration
}

// DefaultSettings returns Yopass's defaults: 10000-byte messages, 512 KiB
// files, lifetimes of an hour, a day and a week (an hour preselected), status
// prefetch on, no CORS, and 30-second read and write timeouts.
func DefaultSettings() Settings {
	return Settings{
		MaxLength:      10000,
		MaxFileSize:    512 << 10,
		Expirations:    []int{3600, 86400, 604800},
		DefaultExpiry:  3600,
		PrefetchSecret: true,
		ReadTimeout:    30 * time.Second,
		WriteTimeout:   30 * time.Second,
	}
}

// Validate returns every problem with s at once (errors.Join), or nil.
func (s Settings) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if s.MaxLength <= 0 || s.MaxLength > maxMaxLength {
		add("max length %d: must be between 1 and %d bytes", s.MaxLength, maxMaxLength)
	}
	if s.MaxFileSize <= 0 || s.MaxFileSize > maxMaxFileSize {
		add("max file size %d: must be between 1 and %d bytes", s.MaxFileSize, maxMaxFileSize)
	}
	errs = append(errs, validateExpirations(s.Expirations, s.DefaultExpiry)...)
	if err := validateOrigin(s.CORSOrigin); err != nil {
		errs = append(errs, err)
	}
	if s.ReadTimeout < 0 {
		add("read timeout %s: must not be negative", s.ReadTimeout)
	}
	if s.WriteTimeout < 0 {
		add("write timeout %s: must not be negative", s.WriteTimeout)
	}
	return errors.Join(errs...)
}

func validateExpirations(exps []int, def int) []error {
	var errs []error
	if len(exps) == 0 {
		errs = append(errs, errors.New("expirations: at least one is required"))
	}
	for i, e := range exps {
		if e <= 0 || e > maxExpiration {
			errs = append(errs, fmt.Errorf("expiration %d: must be between 1 and %d seconds", e, maxExpiration))
		}
		if slices.Contains(exps[:i], e) {
			errs = append(errs, fmt.Errorf("expiration %d: listed twice", e))
		}
	}
	if !slices.Contains(exps, def) {
		errs = append(errs, fmt.Errorf("default expiry %d: must be one of the expirations %v", def, exps))
	}
	return errs
}

// validateOrigin accepts "", "*" or a bare origin (scheme://host[:port]),
// which is all a browser ever compares Access-Control-Allow-Origin with.
func validateOrigin(o string) error {
	if o == "" || o == "*" {
		return nil
	}
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("cors origin %q: must be empty, \"*\" or scheme://host[:port] with no path", o)
	}
	return nil
}

// allowsExpiration reports whether secs is one of the allowed lifetimes.
func (s *Settings) allowsExpiration(secs int64) bool {
	for _, e := range s.Expirations {
		if int64(e) == secs {
			return true
		}
	}
	return false
}

// clone copies s so that a caller changing its Expirations slice later
// cannot change the settings being served.
func (s Settings) clone() *Settings {
	s.Expirations = slices.Clone(s.Expirations)
	return &s
}
