package api

import (
	"strings"
	"testing"
	"time"
)

func TestSettingsValidate(t *testing.T) {
	t.Run("defaults-are-valid", func(t *testing.T) {
		if err := DefaultSettings().Validate(); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("every-problem-at-once", func(t *testing.T) {
		s := Settings{
			MaxLength:     0,
			MaxFileSize:   -1,
			Expirations:   []int{3600, 3600, -5},
			DefaultExpiry: 60,
			CORSOrigin:    "https://example.com/path",
			ReadTimeout:   -time.Second,
			WriteTimeout:  -time.Second,
		}
		err := s.Validate()
		if err == nil {
			t.Fatal("no error")
		}
		for _, want := range []string{
			"max length 0", "max file size -1", "expiration 3600: listed twice", "expiration -5",
			"default expiry 60", "cors origin", "read timeout", "write timeout",
		} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not mention %q", err, want)
			}
		}
	})
	t.Run("no-expirations", func(t *testing.T) {
		s := DefaultSettings()
		s.Expirations = nil
		if err := s.Validate(); err == nil || !strings.Contains(err.Error(), "at least one") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("cors-origins", func(t *testing.T) {
		for origin, ok := range map[string]bool{
			"":                            true,
			"*":                           true,
			"https://secrets.example":     true,
			"http://127.0.0.1:8080":       true,
			"https://secrets.example/":    false,
			"secrets.example":             false,
			"ftp://secrets.example":       false,
			"https://u:p@secrets.example": false,
			"https://secrets.example?q":   false,
		} {
			s := DefaultSettings()
			s.CORSOrigin = origin
			if err := s.Validate(); (err == nil) != ok {
				t.Errorf("origin %q: Validate() = %v, want ok=%v", origin, err, ok)
			}
		}
	})
}

func TestSetSettingsCopies(t *testing.T) {
	a := New(Options{Settings: DefaultSettings()})
	s := DefaultSettings()
	s.Expirations = []int{60}
	s.DefaultExpiry = 60
	a.SetSettings(s)
	s.Expirations[0] = 120
	if got := a.settings.Load().Expirations[0]; got != 60 {
		t.Fatalf("changing the caller's slice changed the served settings: %d", got)
	}
}

func TestMaxRequestBodySize(t *testing.T) {
	s := DefaultSettings()
	if got, want := s.MaxRequestBodySize(), s.MaxFileSize; got != want {
		t.Fatalf("got %d, want the file limit %d", got, want)
	}
	s.MaxLength = 1 << 20
	if got, want := s.MaxRequestBodySize(), secretBodyLimit(1<<20); got != want {
		t.Fatalf("got %d, want the secret limit %d", got, want)
	}
}
