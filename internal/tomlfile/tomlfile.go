// Package tomlfile decodes strict TOML configuration files for both vigil
// programs: an unknown key or a value of the wrong type is an error that names
// the file, line and column.
package tomlfile

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"time"

	toml "github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
)

// Load reads the file at path and decodes it over v, which should already hold
// the defaults. Errors name the file and, where the decoder knows it, the
// line and column: "vigil.toml:3:1: unknown key \"foo\"".
func Load(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	return Decode(path, data, v)
}

// Decode decodes data (named name in errors) strictly over v.
func Decode(name string, data []byte, v any) error {
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	// Duration sees the raw value this way, so it can refuse a bare number
	// (go-toml would otherwise store 25 as 25ns without asking).
	dec.EnableUnmarshalerInterface()
	err := dec.Decode(v)
	if err == nil {
		return nil
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		row, col := de.Position()
		return fmt.Errorf("%s:%d:%d: %s%s", name, row, col, keyPrefix(de.Key()), de.Error())
	}
	var se *toml.StrictMissingError
	if errors.As(err, &se) && len(se.Errors) > 0 {
		errs := make([]error, 0, len(se.Errors))
		for i := range se.Errors {
			row, col := se.Errors[i].Position()
			errs = append(errs, fmt.Errorf("%s:%d:%d: unknown key %q", name, row, col, joinKey(se.Errors[i].Key())))
		}
		return errors.Join(errs...)
	}
	return fmt.Errorf("%s: %w", name, err)
}

func keyPrefix(k toml.Key) string {
	if len(k) == 0 {
		return ""
	}
	return fmt.Sprintf("key %q: ", joinKey(k))
}

func joinKey(k toml.Key) string {
	var b bytes.Buffer
	for i, part := range k {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(part)
	}
	return b.String()
}

// Duration is a time.Duration written in TOML as a Go duration string
// ("25s", "1m30s", "250ms").
type Duration time.Duration

// UnmarshalTOML takes the raw TOML value: a quoted Go duration string. A
// bare number is refused: 25 is ambiguous, "25s" is not.
//
// Errors are go-toml parser errors that highlight raw, which is a slice of
// the document, so the decoder reports them with their line and column.
func (d *Duration) UnmarshalTOML(raw []byte) error {
	s := string(raw)
	if len(s) < 2 || (s[0] != '"' && s[0] != '\'') || s[len(s)-1] != s[0] {
		return unstable.NewParserError(raw, "invalid duration %s (write it as a string with a unit, such as \"25s\" or \"500ms\")", s)
	}
	if err := d.UnmarshalText([]byte(s[1 : len(s)-1])); err != nil {
		return unstable.NewParserError(raw, "%s", err)
	}
	return nil
}

// UnmarshalText parses a Go duration string. A number without a unit is
// rejected: "25" is ambiguous, "25s" is not.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("invalid duration %q (write it with a unit, such as \"25s\" or \"500ms\")", b)
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes the duration as a Go duration string.
func (d Duration) MarshalText() ([]byte, error) {
	return []byte(time.Duration(d).String()), nil
}

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }
