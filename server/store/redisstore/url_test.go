package redisstore

import (
	"crypto/tls"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		url   string
		check func(t *testing.T, u *redis.UniversalOptions)
	}{
		{"redis://localhost:6379/0", func(t *testing.T, u *redis.UniversalOptions) {
			eq(t, "addrs", u.Addrs, []string{"localhost:6379"})
			eq(t, "tls", u.TLSConfig == nil, true)
			eq(t, "mode", mode(u), "standalone")
		}},
		{"redis://h", func(t *testing.T, u *redis.UniversalOptions) {
			eq(t, "addrs", u.Addrs, []string{"h:6379"})
			eq(t, "db", u.DB, 0)
		}},
		{"redis://app:pa%40ss@h:1234/3", func(t *testing.T, u *redis.UniversalOptions) {
			eq(t, "user", u.Username, "app")
			eq(t, "password", u.Password, "pa@ss")
			eq(t, "db", u.DB, 3)
		}},
		{"rediss://cache.example:6380/1", func(t *testing.T, u *redis.UniversalOptions) {
			if u.TLSConfig == nil {
				t.Fatal("rediss:// without TLS")
			}
			eq(t, "server name", u.TLSConfig.ServerName, "cache.example")
			eq(t, "min version", u.TLSConfig.MinVersion, uint16(tls.VersionTLS12))
			eq(t, "skip verify", u.TLSConfig.InsecureSkipVerify, false)
		}},
		{"rediss://h/0?skip_verify=true", func(t *testing.T, u *redis.UniversalOptions) {
			eq(t, "skip verify", u.TLSConfig.InsecureSkipVerify, true)
		}},
		{"redis://h/0?dial_timeout=3s&read_timeout=2&pool_size=20&client_name=vigil", func(t *testing.T, u *redis.UniversalOptions) {
			eq(t, "dial", u.DialTimeout, 3*time.Second)
			eq(t, "read", u.ReadTimeout, 2*time.Second)
			eq(t, "pool", u.PoolSize, 20)
			eq(t, "client name", u.ClientName, "vigil")
		}},
		{"unix:///run/redis/redis.sock?db=2", func(t *testing.T, u *redis.UniversalOptions) {
			eq(t, "addrs", u.Addrs, []string{"/run/redis/redis.sock"})
			eq(t, "db", u.DB, 2)
		}},
		{"redis+sentinel://:pw@s1:26380,s2/mymaster/2", func(t *testing.T, u *redis.UniversalOptions) {
			eq(t, "mode", mode(u), "sentinel")
			eq(t, "master", u.MasterName, "mymaster")
			eq(t, "addrs", u.Addrs, []string{"s1:26380", "s2:26379"})
			eq(t, "db", u.DB, 2)
			eq(t, "password", u.Password, "pw")
			eq(t, "sentinel password", u.SentinelPassword, "")
		}},
		{"redis+sentinel://s1/m?sentinel_username=su&sentinel_password=s%26pw&dial_timeout=5s", func(t *testing.T, u *redis.UniversalOptions) {
			eq(t, "sentinel user", u.SentinelUsername, "su")
			eq(t, "sentinel password", u.SentinelPassword, "s&pw")
			eq(t, "password", u.Password, "")
			eq(t, "dial", u.DialTimeout, 5*time.Second)
		}},
		{"rediss+sentinel://s1,s2/m", func(t *testing.T, u *redis.UniversalOptions) {
			if u.TLSConfig == nil || u.TLSConfig.ServerName != "" {
				t.Fatalf("tls %+v: want TLS checked against each host's own name", u.TLSConfig)
			}
		}},
		{"redis+cluster://u:p%3A1@n1:7000,n2:7001", func(t *testing.T, u *redis.UniversalOptions) {
			eq(t, "mode", mode(u), "cluster")
			eq(t, "addrs", u.Addrs, []string{"n1:7000", "n2:7001"})
			eq(t, "user", u.Username, "u")
			eq(t, "password", u.Password, "p:1")
		}},
		{"redis+cluster://n1", func(t *testing.T, u *redis.UniversalOptions) {
			eq(t, "cluster mode with one seed", u.IsClusterMode, true)
			eq(t, "addrs", u.Addrs, []string{"n1:6379"})
		}},
		{"redis+cluster://[::1]:7000,[::1]:7001/?pool_size=5", func(t *testing.T, u *redis.UniversalOptions) {
			eq(t, "addrs", u.Addrs, []string{"[::1]:7000", "[::1]:7001"})
			eq(t, "pool", u.PoolSize, 5)
		}},
		{"rediss+cluster://n1,n2", func(t *testing.T, u *redis.UniversalOptions) {
			if u.TLSConfig == nil || u.TLSConfig.ServerName != "" {
				t.Fatalf("tls %+v: want TLS checked against each host's own name", u.TLSConfig)
			}
		}},
	} {
		t.Run("good/"+tc.url, func(t *testing.T) {
			u, err := ParseURL(tc.url)
			if err != nil {
				t.Fatalf("ParseURL: %v", err)
			}
			tc.check(t, u)
		})
	}
}

func TestParseURLRejects(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"", "no scheme"},
		{"localhost:6379", "no scheme"},
		{"http://h", "unsupported scheme"},
		{"redis://:hunter2@h:notaport/0", "invalid port"},
		{"redis://:hunter2@h:99999/0", "invalid port"},
		{"redis://:hunter2@h/abc", "invalid database number"},
		{"redis://hunter2@h/0/1", "invalid URL path"},
		{"redis://:hun%zzter2@h/0", "invalid URL escape"},
		{"redis://h/-1", "negative"},
		{"redis://:hunter2@h/0?bogus=1", "unexpected option: bogus"},
		{"redis://h/0?read_timeout=-1", "timeouts cannot be disabled"},
		{"redis://h1:1,h2:2/0", "several hosts"},
		{"redis+sentinel://:hunter2@s1", "no master name"},
		{"redis+sentinel://s1/m/0/extra", "want /mastername[/db]"},
		{"redis+sentinel://s1/m/x", "invalid database number"},
		{"redis+sentinel://s1/m?replica_only=true", "not supported"},
		{"redis+sentinel://s1/m?password=hunter2", "not allowed"},
		{"redis+sentinel://s1/m?sentinel_password=hunter2&nope=1", "unexpected option: nope"},
		{"redis+sentinel:///m", "no host"},
		{"redis+cluster://n1/0", "no database number"},
		{"redis+cluster://n1?read_only=true", "not supported"},
		{"redis+cluster://n1,,n2", "empty host"},
		{"redis+cluster://:hunter2@n1:bad", "invalid port"},
		{"redis+cluster://n1?addr=n2:1", "not allowed"},
	} {
		t.Run("bad/"+tc.url, func(t *testing.T) {
			_, err := ParseURL(tc.url)
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not say %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "zzter") {
				t.Fatalf("error shows the password: %q", err)
			}
			t.Log(err)
		})
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"redis://user:pw@h:1/0":   "redis://user:xxxxx@h:1/0",
		"redis://:pw@h":           "redis://:xxxxx@h",
		"redis://pw@h":            "redis://xxxxx@h",
		"redis://u:p@ss@h/0":      "redis://u:xxxxx@h/0",
		"redis://h/0?pool_size=1": "redis://h/0?pool_size=1",
		"redis+sentinel://:pw@a,b/m?sentinel_password=spw&x=1": "redis+sentinel://:xxxxx@a,b/m?sentinel_password=xxxxx&x=1",
		"not a url": "xxxxx",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func eq(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s = %#v, want %#v", what, got, want)
	}
}
