package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sh/vigil/supervisor/supervise"
)

func TestReloadConfigDefaults(t *testing.T) {
	cfg, err := load(t, "--", "true")
	if err != nil {
		t.Fatal(err)
	}
	st, _ := cfg.settings()
	if cfg.Readiness.Mode != "started" || cfg.Readiness.Delay != 0 || cfg.Readiness.StartTimeout.D() != time.Minute ||
		cfg.Reload.Strategy != "restart" || cfg.Reload.Signal != "HUP" || len(cfg.Reload.Check) != 0 ||
		cfg.Reload.CheckTimeout.D() != 10*time.Second || cfg.Reload.Debounce.D() != 100*time.Millisecond ||
		len(cfg.Listen) != 0 || st.readyMode != supervise.ReadyStarted || st.strategy != supervise.StrategyRestart {
		t.Fatalf("defaults = %+v", cfg)
	}
	if cfg.reloadEnabled() {
		t.Error("plain vigil -- cmd has reloads on: SIGHUP would not be forwarded")
	}
}

func TestReloadConfigKeys(t *testing.T) {
	path := writeConfig(t, `
command = ["srv"]
env = ["A=1"]
[[listen]]
name = "http"
address = "127.0.0.1:1337"
[[listen]]
name = "metrics"
address = "unix:/run/m.sock"
[readiness]
mode = "notify"
delay = "1s"
start_timeout = "30s"
[reload]
strategy = "signal"
signal = "USR2"
watch = ["a.toml"]
check = ["srv", "-check"]
check_timeout = "5s"
debounce = "250ms"
`)
	t.Run("file", func(t *testing.T) {
		cfg, err := load(t, "-config", path)
		if err != nil {
			t.Fatal(err)
		}
		if len(cfg.Listen) != 2 || cfg.Listen[1].Address != "unix:/run/m.sock" || cfg.Readiness.Mode != "notify" ||
			cfg.Readiness.Delay.D() != time.Second || cfg.Reload.Strategy != "signal" || cfg.Reload.Signal != "USR2" ||
			strings.Join(cfg.Reload.Check, " ") != "srv -check" || cfg.Reload.Debounce.D() != 250*time.Millisecond {
			t.Fatalf("cfg = %+v", cfg)
		}
		if !cfg.reloadEnabled() || strings.Join(cfg.watchList(), " ") != "a.toml "+path {
			t.Errorf("reloads %v, watch list %v: want on, with the config file", cfg.reloadEnabled(), cfg.watchList())
		}
	})
	t.Run("flags-over-file", func(t *testing.T) {
		cfg, err := load(t, "-config", path, "-readiness", "started", "-start-timeout", "9s",
			"-reload-strategy", "restart", "-reload-signal", "HUP", "-watch", "b.toml", "-watch", "c.toml")
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Readiness.Mode != "started" || cfg.Readiness.StartTimeout.D() != 9*time.Second ||
			cfg.Reload.Strategy != "restart" || cfg.Reload.Signal != "HUP" || strings.Join(cfg.Reload.Watch, " ") != "b.toml c.toml" {
			t.Fatalf("cfg = %+v", cfg)
		}
	})
	t.Run("reload-flag-turns-reloads-on", func(t *testing.T) {
		cfg, err := load(t, "-reload-strategy", "signal", "--", "srv")
		if err != nil || !cfg.reloadEnabled() {
			t.Fatalf("reloads %v, err %v", cfg.reloadEnabled(), err)
		}
	})
}

func TestReloadConfigValidation(t *testing.T) {
	path := writeConfig(t, `
command = ["srv"]
env = ["NOTIFY_SOCKET=/x", "LISTEN_FDS=3"]
[[listen]]
name = "a:b"
address = "127.0.0.1"
[[listen]]
name = "dup"
address = "127.0.0.1:1"
[[listen]]
name = "dup2"
address = "127.0.0.1:1"
[readiness]
mode = "whenever"
delay = "5s"
start_timeout = "2s"
[reload]
strategy = "reboot"
signal = "NOPE"
watch = [""]
check = [""]
check_timeout = "0s"
debounce = "0s"
`)
	_, err := load(t, "-config", path)
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"NOTIFY_SOCKET", "LISTEN_FDS", `"a:b"`, "127.0.0.1:1 is already used", "readiness.mode",
		"readiness.delay: 5s is not below start_timeout", "reload.strategy", "reload.signal", "reload.watch",
		"reload.check", "reload.check_timeout", "reload.debounce: must be positive"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

// TestShippedConfigs loads every vigil config in configs/ (and the one in
// the Kubernetes manifest) as vigil would: they must stay valid.
func TestShippedConfigs(t *testing.T) {
	root := filepath.Join("..", "configs")
	files := []string{"vigil.toml", "systemd/vigil.toml", "container/vigil.toml"}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			if _, err := load(t, "-config", filepath.Join(root, f)); err != nil {
				t.Fatal(err)
			}
		})
	}
	t.Run("kubernetes/vigil.yaml", func(t *testing.T) {
		b, err := os.ReadFile(filepath.Join(root, "kubernetes", "vigil.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		embedded := yamlBlock(string(b), "vigil.toml: |")
		if embedded == "" {
			t.Fatal("no vigil.toml block in the manifest")
		}
		if _, err := load(t, "-config", writeConfig(t, embedded)); err != nil {
			t.Fatal(err)
		}
	})
}

// yamlBlock returns the literal block scalar after the line ending in key,
// dedented.
func yamlBlock(doc, key string) string {
	lines := strings.Split(doc, "\n")
	for i, l := range lines {
		if !strings.HasSuffix(strings.TrimSpace(l), key) {
			continue
		}
		indent := len(l) - len(strings.TrimLeft(l, " ")) + 2
		var out []string
		for _, b := range lines[i+1:] {
			if strings.TrimSpace(b) != "" && len(b)-len(strings.TrimLeft(b, " ")) < indent {
				break
			}
			out = append(out, strings.TrimPrefix(b, strings.Repeat(" ", indent)))
		}
		return strings.Join(out, "\n")
	}
	return ""
}
