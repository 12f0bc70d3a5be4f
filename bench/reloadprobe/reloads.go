package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// pollEvery is how often a reload's progress is looked at.
const pollEvery = 2 * time.Millisecond

// reloadTimeout bounds one reload; a slower one fails the benchmark.
const reloadTimeout = 60 * time.Second

var sizeLine = regexp.MustCompile(`(?m)^max_file_size\s*=.*$`)

func reloads(args []string) error {
	fs := newFlags("reloads")
	path := fs.String("config", "", "the server config file vigil watches")
	url := fs.String("url", "", "base URL served through vigil")
	vigilPid := fs.Int("vigil-pid", 0, "vigil's pid (its children are looked at)")
	n := fs.Int("n", 100, "number of reloads")
	_ = fs.Parse(args)
	base, err := os.ReadFile(*path)
	if err != nil {
		return fmt.Errorf("read the config: %w", err)
	}
	if !sizeLine.Match(base) {
		return fmt.Errorf("%s has no max_file_size line to change", *path)
	}
	old, err := onlyServer(*vigilPid, 0, time.Now().Add(reloadTimeout))
	if err != nil {
		return err
	}
	var serving, done []time.Duration
	for rev := 1; rev <= *n; rev++ {
		size := 200001 + 2*rev // odd: /config prints it as a plain number
		content := sizeLine.ReplaceAll(base, []byte(fmt.Sprintf("max_file_size = %d", size)))
		start := time.Now()
		if err := os.WriteFile(*path, content, 0o600); err != nil {
			return fmt.Errorf("write the config: %w", err)
		}
		if err := waitServed(*url, strconv.Itoa(size), start.Add(reloadTimeout)); err != nil {
			return fmt.Errorf("reload %d: %w", rev, err)
		}
		serving = append(serving, time.Since(start))
		if old, err = onlyServer(*vigilPid, old, start.Add(reloadTimeout)); err != nil {
			return fmt.Errorf("reload %d: %w", rev, err)
		}
		done = append(done, time.Since(start))
	}
	summary("file write -> new child serving", serving)
	summary("file write -> old child gone", done)
	return nil
}

// fresh opens a new connection per request, so whichever child accepts
// first answers.
var fresh = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// waitServed polls GET /config until MAX_FILE_SIZE is want.
func waitServed(base, want string, deadline time.Time) error {
	for {
		if servedSize(base) == want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the new configuration was not served within %v", reloadTimeout)
		}
		time.Sleep(pollEvery)
	}
}

func servedSize(base string) string {
	resp, err := fresh.Get(base + "/config")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var cfg struct {
		Size string `json:"MAX_FILE_SIZE"`
	}
	_ = json.Unmarshal(b, &cfg)
	return cfg.Size
}

// onlyServer waits until vigil has exactly one vigil-server child (not a
// -check) other than old and returns its pid.
func onlyServer(vigilPid, old int, deadline time.Time) (int, error) {
	for {
		pids := servers(vigilPid)
		if len(pids) == 1 && pids[0] != old {
			return pids[0], nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("vigil's vigil-server children are %v, want one other than %d", pids, old)
		}
		time.Sleep(pollEvery)
	}
}

func servers(vigilPid int) []int {
	files, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", vigilPid))
	var pids []int
	for _, f := range files {
		b, _ := os.ReadFile(f)
		for _, field := range strings.Fields(string(b)) {
			pid, _ := strconv.Atoi(field)
			args, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			argv := strings.Split(string(args), "\x00")
			if filepath.Base(argv[0]) == "vigil-server" && !slices.Contains(argv, "-check") {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}
