package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// reloadSteps are the durations vigil's `reload done` line carries, in the
// order a reload goes through them; each runs from the end of the one before,
// so they add up to event_to_ready (check_ran is part of check).
var reloadSteps = []struct{ key, what string }{
	{"quiet", "first inotify event -> files hashed (the debounce)"},
	{"handoff", "hashed -> reload triggered"},
	{"load", "re-read vigil's own config"},
	{"check", "check command (fork, re-exec, exec, exit)"},
	{"check_ran", "  of which the check process lived (not a step)"},
	{"spawn", "new child forked (sockets, notify socket)"},
	{"reexec", "fork -> command exec'd (vigil's re-exec)"},
	{"child_start", "exec -> READY=1 (the child's own start)"},
	{"event_to_ready", "first event -> new child READY=1 (total)"},
}

// reloadLine is one `reload done` line of vigil's log.
type reloadLine struct {
	fields map[string]string
}

func (l reloadLine) dur(key string) (time.Duration, bool) {
	d, err := time.ParseDuration(l.fields[key])
	return d, err == nil
}

// parseReloadLine returns the fields of a `reload done` line.
func parseReloadLine(line string) (reloadLine, bool) {
	_, rest, ok := strings.Cut(line, "reload done: ")
	if !ok {
		return reloadLine{}, false
	}
	fields := map[string]string{}
	for _, f := range strings.Fields(rest) {
		if k, v, ok := strings.Cut(f, "="); ok {
			fields[k] = strings.Trim(v, `"`)
		}
	}
	return reloadLine{fields: fields}, true
}

// readReloadLines parses every `reload done` line in r.
func readReloadLines(r io.Reader) ([]reloadLine, error) {
	var lines []reloadLine
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if l, ok := parseReloadLine(sc.Text()); ok {
			lines = append(lines, l)
		}
	}
	return lines, sc.Err()
}

// logstats summarizes the step timings vigil logged for its reloads.
func logstats(args []string) error {
	fs := newFlags("logstats")
	path := fs.String("log", "", "vigil's log (text format)")
	_ = fs.Parse(args)
	f, err := os.Open(*path)
	if err != nil {
		return err
	}
	defer f.Close()
	lines, err := readReloadLines(f)
	if err != nil {
		return fmt.Errorf("read %s: %w", *path, err)
	}
	printSteps(lines)
	return nil
}

// printSteps prints the median, p99 and max of each step over lines.
func printSteps(lines []reloadLine) {
	fmt.Printf("vigil's log, %d reloads:\n", len(lines))
	for _, st := range reloadSteps {
		var d []time.Duration
		for _, l := range lines {
			if v, ok := l.dur(st.key); ok {
				d = append(d, v)
			}
		}
		summary(fmt.Sprintf("  %-15s %s", st.key, st.what), d)
	}
}
