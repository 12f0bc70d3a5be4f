package main

import (
	"bytes"
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
	logPath := fs.String("log", "", "vigil's log (text format): each reload's timings are read from it")
	n := fs.Int("n", 100, "number of reloads")
	_ = fs.Parse(args)
	var tail *logTail
	if *logPath != "" {
		t, err := openTail(*logPath)
		if err != nil {
			return err
		}
		defer t.f.Close()
		tail = t
	}
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
	var lines []reloadLine
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
		if tail != nil {
			l, err := tail.next(start.Add(reloadTimeout))
			if err != nil {
				return fmt.Errorf("reload %d: %w", rev, err)
			}
			lines = append(lines, l)
		}
	}
	fmt.Println("the probe (fresh connection per GET /config, polled every " + pollEvery.String() + "):")
	summary("  file write -> new child serving", serving)
	summary("  file write -> old child gone", done)
	if tail == nil {
		return nil
	}
	printSteps(lines)
	target(serving, lines)
	return nil
}

// target prints the figure the benchmark's target names: the time from the
// file write to the new child ready, less the child's own start (exec ->
// READY=1, as vigil saw it in that very reload), against 300 ms. The
// probe's figure also holds the event's delivery to vigil and the probe's
// own noticing (the old child accepts fresh connections until it has its
// SIGTERM; the poll interval); vigil's starts at its first inotify event.
func target(serving []time.Duration, lines []reloadLine) {
	var probe, vigil, notice []time.Duration
	unknown := 0
	for i, l := range lines {
		ready, ok := l.dur("event_to_ready")
		if !ok {
			continue
		}
		// When vigil read the new child's READY=1 before the news that its
		// command was exec'd, it logged no child_start: count none (the
		// whole time counts against the target).
		start, ok := l.dur("child_start")
		if !ok {
			unknown++
		}
		probe = append(probe, serving[i]-start)
		vigil = append(vigil, ready-start)
		notice = append(notice, serving[i]-ready)
	}
	fmt.Println("target: file write -> new child ready, less the child's own start (exec -> READY=1 in that reload), within 300ms:")
	if unknown > 0 {
		fmt.Printf("  (%d reloads logged no child_start; nothing is subtracted for them)\n", unknown)
	}
	summary("  probe: write -> serving, less child_start", probe)
	summary("  vigil: first event -> READY=1, less child_start", vigil)
	summary("  write -> serving, less vigil's event -> ready", notice)
	if len(probe) > 0 {
		s := slices.Clone(probe)
		slices.Sort(s)
		p99 := s[(len(s)*99+99)/100-1]
		verdict := "MET"
		if s[len(s)/2] > 300*time.Millisecond || p99 > 300*time.Millisecond {
			verdict = "NOT MET"
		}
		fmt.Printf("  target (probe figure, median and p99 <= 300ms): %s\n", verdict)
	}
}

// logTail reads the lines vigil appends to its log.
type logTail struct {
	f    *os.File
	part []byte // an unfinished last line
}

func openTail(path string) (*logTail, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		f.Close()
		return nil, err
	}
	return &logTail{f: f}, nil
}

// next returns the next `reload done` line, polling the file until it
// comes or the deadline passes.
func (t *logTail) next(deadline time.Time) (reloadLine, error) {
	buf := make([]byte, 64<<10)
	for {
		for {
			i := bytes.IndexByte(t.part, '\n')
			if i < 0 {
				break
			}
			line := string(t.part[:i])
			t.part = t.part[i+1:]
			if l, ok := parseReloadLine(line); ok {
				return l, nil
			}
		}
		k, err := t.f.Read(buf)
		t.part = append(t.part, buf[:k]...)
		if k > 0 {
			continue
		}
		if err != nil && err != io.EOF {
			return reloadLine{}, err
		}
		if time.Now().After(deadline) {
			return reloadLine{}, fmt.Errorf("no \"reload done\" in vigil's log within %v", reloadTimeout)
		}
		time.Sleep(pollEvery)
	}
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
