package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func noEnv(string) string { return "" }

func TestDefaultIsValid(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
}

func TestShippedConfigsAreValid(t *testing.T) {
	for _, name := range []string{"server.toml", "container/server.toml"} {
		cfg, err := Load(filepath.Join("..", "..", "configs", name), noEnv)
		if err != nil {
			t.Fatalf("configs/%s: %v", name, err)
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("configs/%s does not validate: %v", name, err)
		}
	}
}

func TestLoad(t *testing.T) {
	cases := []struct {
		name    string
		file    string
		env     map[string]string
		wantErr string
		check   func(t *testing.T, c Config)
	}{
		{name: "file-overrides-defaults", file: "listen = \"127.0.0.1:9\"\n[sqlite]\nsynchronous = \"full\"\n",
			check: func(t *testing.T, c Config) {
				if c.Listen != "127.0.0.1:9" || c.SQLite.Synchronous != "full" || c.MaxLength != 10000 {
					t.Fatalf("got %+v", c)
				}
			}},
		{name: "env-overrides-file", file: "listen = \"127.0.0.1:9\"\n",
			env: map[string]string{"VIGIL_LISTEN": "127.0.0.1:10", "VIGIL_DRAIN_TIMEOUT": "3s", "VIGIL_READ_ONLY": "true"},
			check: func(t *testing.T, c Config) {
				if c.Listen != "127.0.0.1:10" || c.DrainTimeout.D() != 3*time.Second || !c.ReadOnly {
					t.Fatalf("got %+v", c)
				}
			}},
		{name: "unknown-key-names-line", file: "listen = \"127.0.0.1:9\"\nlisten_adress = \"x\"\n", wantErr: "server.toml:2:1"},
		{name: "wrong-type-names-line", file: "max_length = \"big\"\n", wantErr: "server.toml:1:14"},
		{name: "bad-env-value", env: map[string]string{"VIGIL_MAX_LENGTH": "lots"}, wantErr: "VIGIL_MAX_LENGTH"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "server.toml")
			if err := os.WriteFile(path, []byte(tc.file), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := Load(path, func(k string) string { return tc.env[k] })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, cfg)
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c := Default()
	c.Listen = "nope"
	c.Store = "postgres://x"
	c.MaxLength = 0
	c.DefaultExpiry = 5
	c.LogFormat = "xml"
	c.CORSOrigin = "evil.example/path"
	c.HTTP.ReadTimeout = 0
	c.SQLite.Synchronous = "off"
	err := c.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"listen:", "store:", "max length", "default expiry", "cors origin", "log_format:", "http.read_timeout", "sqlite.synchronous"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
}

func TestParseStore(t *testing.T) {
	cases := []struct {
		in      string
		kind    StoreKind
		path    string
		wantErr bool
	}{
		{in: "sqlite:data/vigil.db", kind: StoreSQLite, path: "data/vigil.db"},
		{in: "sqlite:///var/lib/vigil/v.db", kind: StoreSQLite, path: "/var/lib/vigil/v.db"},
		{in: "redis://127.0.0.1:6379/0", kind: StoreRedis},
		{in: "rediss://u:p@host:6380/1", kind: StoreRedis},
		{in: "redis+sentinel://h1:26379,h2:26379/mymaster/0", kind: StoreRedis},
		{in: "sqlite:", wantErr: true},
		{in: "memcached://x", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tc := range cases {
		got, err := ParseStore(tc.in)
		if (err != nil) != tc.wantErr {
			t.Fatalf("%q: error %v", tc.in, err)
		}
		if !tc.wantErr && (got.Kind != tc.kind || got.Path != tc.path) {
			t.Fatalf("%q: got %+v", tc.in, got)
		}
	}
	if _, err := ParseStore("mysql://user:hunter2@db/x"); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("password leaked or no error: %v", err)
	}
}
