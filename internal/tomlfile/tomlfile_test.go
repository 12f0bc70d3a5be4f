package tomlfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type testConfig struct {
	Name    string   `toml:"name"`
	Count   int      `toml:"count"`
	Timeout Duration `toml:"timeout"`
	Section struct {
		Flag bool `toml:"flag"`
	} `toml:"section"`
}

func TestDecode(t *testing.T) {
	cases := []struct {
		name, in, wantErr string
	}{
		{"valid", "name = \"a\"\ncount = 2\ntimeout = \"3s\"\n[section]\nflag = true\n", ""},
		{"unknown-key", "name = \"a\"\nbogus = 1\n", "c.toml:2:1"},
		{"unknown-nested-key", "[section]\nnope = 1\n", "c.toml:2:1"},
		{"wrong-type", "count = \"two\"\n", "c.toml:1:9"},
		{"bad-duration", "timeout = \"12q\"\n", "c.toml:1:11"},
		{"syntax", "name = \n", "c.toml:1:"},
		{"duration-without-unit", "timeout = \"5\"\n", "invalid duration"},
		{"duration-bare-number", "timeout = 25\n", "c.toml:1:11"},
		{"duration-literal-string", "timeout = '3s'\ncount = 2\n[section]\nflag = true\n", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var c testConfig
			err := Decode("c.toml", []byte(tc.in), &c)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if c.Timeout.D() != 3*time.Second || !c.Section.Flag || c.Count != 2 {
					t.Fatalf("decoded %+v", c)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	var c testConfig
	err := Load(filepath.Join(t.TempDir(), "missing.toml"), &c)
	if err == nil || !os.IsNotExist(unwrapAll(err)) {
		t.Fatalf("want a not-exist error, got %v", err)
	}
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}
