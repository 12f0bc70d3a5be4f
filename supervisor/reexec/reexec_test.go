package reexec

import (
	"os"
	"reflect"
	"testing"

	"golang.org/x/sys/unix"
)

func TestWithListenPID(t *testing.T) {
	env := []string{"A=1", "LISTEN_FDS=2", "LISTEN_PID=99", "LISTEN_FDNAMES=a:b"}
	got := withListenPID(env, 1234)
	want := []string{"A=1", "LISTEN_FDS=2", "LISTEN_FDNAMES=a:b", "LISTEN_PID=1234"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	plain := []string{"A=1", "LISTEN_PID=99"}
	if got := withListenPID(plain, 1234); !reflect.DeepEqual(got, plain) {
		t.Fatalf("without LISTEN_FDS the environment must not change: %v", got)
	}
}

func TestExitCodeOfExecErrors(t *testing.T) {
	for err, want := range map[error]int{
		unix.ENOENT:    127,
		unix.ENOTDIR:   127,
		unix.EACCES:    126,
		unix.ENOEXEC:   126,
		unix.ETXTBSY:   126,
		os.ErrNotExist: 127,
	} {
		if got := ExitCode(err); got != want {
			t.Errorf("ExitCode(%v) = %d, want %d", err, got, want)
		}
	}
}

func TestParseStatus(t *testing.T) {
	if _, _, failed := ParseStatus(nil); failed {
		t.Error("empty status means running")
	}
	code, reason, failed := ParseStatus([]byte("127 no such file or directory"))
	if !failed || code != 127 || reason != "no such file or directory" {
		t.Errorf("got %d %q %v", code, reason, failed)
	}
	if code, _, failed := ParseStatus([]byte("garbage")); !failed || code != 126 {
		t.Errorf("unparsable status: %d %v", code, failed)
	}
}

func TestArgvRoundTrip(t *testing.T) {
	a := Argv(5, "/bin/x", []string{"x", "-y"})
	if a[0] != marker || a[1] != "5" || a[2] != "/bin/x" || !reflect.DeepEqual(a[3:], []string{"x", "-y"}) {
		t.Fatalf("Argv = %q", a)
	}
}
