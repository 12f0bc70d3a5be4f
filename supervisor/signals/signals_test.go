package signals

import (
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParse(t *testing.T) {
	cases := []struct {
		in   string
		want syscall.Signal
	}{
		{"TERM", unix.SIGTERM},
		{"SIGTERM", unix.SIGTERM},
		{"term", unix.SIGTERM},
		{" hup ", unix.SIGHUP},
		{"15", unix.SIGTERM},
		{"QUIT", unix.SIGQUIT},
		{"RTMIN", 34},
		{"SIGRTMIN+3", 37},
		{"RTMAX-1", 63},
		{"64", 64},
	}
	for _, c := range cases {
		got, err := Parse(c.in)
		if err != nil || got != c.want {
			t.Errorf("Parse(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "0", "65", "-1", "BOGUS", "RTMIN+40", "RTMAX+1", "SIGRTMIN+x"} {
		if got, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) = %v, want an error", bad, got)
		}
	}
}

func TestName(t *testing.T) {
	for sig, want := range map[syscall.Signal]string{
		unix.SIGTERM: "SIGTERM",
		unix.SIGUSR1: "SIGUSR1",
		34:           "SIGRTMIN+0",
		40:           "SIGRTMIN+6",
	} {
		if got := Name(sig); got != want {
			t.Errorf("Name(%d) = %q, want %q", sig, got, want)
		}
	}
}

func TestForwardedExcludesRuntimeSignals(t *testing.T) {
	seen := map[syscall.Signal]bool{}
	for _, s := range Forwarded {
		sig := s.(syscall.Signal)
		if seen[sig] {
			t.Errorf("%v listed twice", sig)
		}
		seen[sig] = true
	}
	for _, never := range []syscall.Signal{unix.SIGCHLD, unix.SIGURG, unix.SIGPROF, unix.SIGKILL, unix.SIGSTOP, 32, 33} {
		if seen[never] {
			t.Errorf("%s must not be forwarded", Name(never))
		}
	}
	for _, must := range []syscall.Signal{unix.SIGHUP, unix.SIGINT, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2,
		unix.SIGALRM, unix.SIGPIPE, unix.SIGTERM, unix.SIGWINCH, unix.SIGCONT, unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU} {
		if !seen[must] {
			t.Errorf("%s must be forwarded", Name(must))
		}
	}
}
