package main

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"time"
)

// logPhases are the steps of a reload as vigil logs them, with the field
// that holds each one's duration.
var logPhases = []struct {
	name string
	line *regexp.Regexp
}{
	{"trigger -> check passed (vigil log)", regexp.MustCompile(`reload: check passed.* took=(\S+)`)},
	{"new child exec -> READY=1 (vigil log)", regexp.MustCompile(`reload: new child ready.* ready_in=(\S+)`)},
	{"trigger -> reload done (vigil log)", regexp.MustCompile(`reload done.* took=(\S+)`)},
}

// logstats summarizes the durations vigil logged for its reloads; the time
// from the file write to the trigger is the debounce.
func logstats(args []string) error {
	fs := newFlags("logstats")
	path := fs.String("log", "", "vigil's log (text format)")
	_ = fs.Parse(args)
	f, err := os.Open(*path)
	if err != nil {
		return err
	}
	defer f.Close()
	samples := make([][]time.Duration, len(logPhases))
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		for i, ph := range logPhases {
			if m := ph.line.FindStringSubmatch(sc.Text()); m != nil {
				if d, err := time.ParseDuration(m[1]); err == nil {
					samples[i] = append(samples[i], d)
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read %s: %w", *path, err)
	}
	for i, ph := range logPhases {
		summary(ph.name, samples[i])
	}
	return nil
}
