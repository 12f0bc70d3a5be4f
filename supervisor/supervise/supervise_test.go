package supervise

import (
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vigil-sh/vigil/supervisor/child"
)

func exited(code int) unix.WaitStatus           { return unix.WaitStatus(code << 8) }
func killedBy(s syscall.Signal) unix.WaitStatus { return unix.WaitStatus(s) }

func TestExitCode(t *testing.T) {
	term := map[syscall.Signal]bool{syscall.SIGTERM: true}
	cases := []struct {
		name     string
		ex       child.Exit
		stopSigs map[syscall.Signal]bool
		want     int
	}{
		{"exit-n", child.Exit{Status: exited(3)}, nil, 3},
		{"exit-0", child.Exit{Status: exited(0)}, nil, 0},
		{"signal-not-stopping", child.Exit{Status: killedBy(syscall.SIGTERM)}, nil, 143},
		{"stop-signal-during-stop", child.Exit{Status: killedBy(syscall.SIGTERM), Stopped: true}, term, 0},
		{"other-signal-during-stop", child.Exit{Status: killedBy(syscall.SIGSEGV), Stopped: true}, term, 139},
		{"exit-n-during-stop", child.Exit{Status: exited(5), Stopped: true}, term, 5},
		{"deadline", child.Exit{Status: killedBy(syscall.SIGKILL), Stopped: true, Killed: true}, term, 124},
		{"not-found", child.Exit{Status: exited(127), StartErr: &child.StartError{Code: 127}}, nil, 127},
		{"not-executable", child.Exit{Status: exited(126), StartErr: &child.StartError{Code: 126}}, nil, 126},
	}
	for _, tc := range cases {
		if got := ExitCode(tc.ex, tc.stopSigs); got != tc.want {
			t.Errorf("%s: ExitCode = %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestFailed(t *testing.T) {
	var sent sigSet
	sent.add(syscall.SIGUSR1)
	cases := []struct {
		ws   unix.WaitStatus
		want bool
	}{
		{exited(0), false},
		{exited(1), true},
		{killedBy(syscall.SIGUSR1), false}, // vigil forwarded it
		{killedBy(syscall.SIGSEGV), true},
	}
	for _, tc := range cases {
		if got := failed(child.Exit{Status: tc.ws}, &sent); got != tc.want {
			t.Errorf("failed(%#x) = %v, want %v", uint32(tc.ws), got, tc.want)
		}
	}
}

func TestBackoff(t *testing.T) {
	b := Backoff{Initial: 100 * time.Millisecond, Max: time.Second, Reset: 10 * time.Second}
	var d time.Duration
	var got []time.Duration
	for i := 0; i < 6; i++ {
		d = b.Next(d, time.Millisecond)
		got = append(got, d)
	}
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i := range want {
		if got[i] != want[i]*time.Millisecond {
			t.Fatalf("delays %v", got)
		}
	}
	if d = b.Next(d, 10*time.Second); d != b.Initial {
		t.Errorf("after a long run: %s, want the initial delay", d)
	}
}

func TestRestartLog(t *testing.T) {
	var l restartLog
	now := time.Now()
	for i := 0; i < 3; i++ {
		if !l.allow(now, 3, time.Minute) {
			t.Fatalf("restart %d refused", i)
		}
	}
	if l.allow(now, 3, time.Minute) {
		t.Fatal("fourth restart within the window allowed")
	}
	if !l.allow(now.Add(time.Minute), 3, time.Minute) {
		t.Fatal("restart after the window refused")
	}
	var unlimited restartLog
	for i := 0; i < 100; i++ {
		if !unlimited.allow(now, 0, time.Minute) {
			t.Fatal("max 0 should mean no limit")
		}
	}
}

func TestParsePolicy(t *testing.T) {
	for _, s := range []string{"no", "on-failure", "always"} {
		p, err := ParsePolicy(s)
		if err != nil || p.String() != s {
			t.Errorf("ParsePolicy(%q) = %v, %v", s, p, err)
		}
	}
	if _, err := ParsePolicy("sometimes"); err == nil {
		t.Error("ParsePolicy accepted sometimes")
	}
}
