// Command reloadprobe measures reloads for bench/reload.sh.
//
//	reloadprobe reloads -config FILE -url URL -vigil-pid PID [-log VIGIL_LOG] [-n 100]
//	reloadprobe startup -server BIN -config FILE [-n 20]
//	reloadprobe logstats -log VIGIL_LOG
//
// "reloads" rewrites max_file_size in the server's config file n times; for
// each write it measures the time until a fresh connection is answered with
// the new value by GET /config (the new child serves) and until the old
// child has exited (the reload is complete), then prints the median, p99 and
// maximum of both; with -log it also reads the timings vigil logged for each
// reload and prints each step and the target's figure (write -> new child
// ready, less that child's own start). "startup" runs vigil-server alone n times and measures
// the time from starting it to its READY=1, the child's own start time.
// "logstats" summarizes the reload steps vigil logged (see reloadSteps).
package main

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: reloadprobe reloads|startup|logstats [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "reloads":
		err = reloads(os.Args[2:])
	case "startup":
		err = startup(os.Args[2:])
	case "logstats":
		err = logstats(os.Args[2:])
	default:
		err = fmt.Errorf("unknown mode %q (reloads, startup or logstats)", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "reloadprobe:", err)
		os.Exit(1)
	}
}

func newFlags(name string) *flag.FlagSet {
	return flag.NewFlagSet("reloadprobe "+name, flag.ExitOnError)
}

// summary prints "name: median X, p99 Y, max Z (n samples)".
func summary(name string, d []time.Duration) {
	if len(d) == 0 {
		fmt.Printf("%s: no samples\n", name)
		return
	}
	s := slices.Clone(d)
	slices.Sort(s)
	fmt.Printf("%-66s median %7s  p99 %7s  max %7s  (%d)\n", name+":",
		ms(s[len(s)/2]), ms(s[(len(s)*99+99)/100-1]), ms(s[len(s)-1]), len(s))
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000)
}
