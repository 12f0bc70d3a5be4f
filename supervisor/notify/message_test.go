package notify

import (
	"maps"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		check func(t *testing.T, m Message)
	}{
		{"ready-and-status", "READY=1\nSTATUS=serving on 127.0.0.1:1337\n", func(t *testing.T, m Message) {
			if !m.Ready || m.Status != "serving on 127.0.0.1:1337" {
				t.Errorf("got %+v", m)
			}
		}},
		{"status-keeps-equals-signs", "STATUS=a=b=c", func(t *testing.T, m Message) {
			if m.Status != "a=b=c" {
				t.Errorf("Status = %q", m.Status)
			}
		}},
		{"stopping-reloading-watchdog", "STOPPING=1\nRELOADING=1\nWATCHDOG=1", func(t *testing.T, m Message) {
			if !m.Stopping || !m.Reloading || !m.Watchdog || m.Ready {
				t.Errorf("got %+v", m)
			}
		}},
		{"values-other-than-1-are-nothing", "READY=0\nSTOPPING=yes\nWATCHDOG=trigger", func(t *testing.T, m Message) {
			if m.Ready || m.Stopping || m.Watchdog {
				t.Errorf("got %+v", m)
			}
			if m.Vars["WATCHDOG"] != "trigger" {
				t.Errorf("Vars = %v", m.Vars)
			}
		}},
		{"numbers", "MAINPID=4242\nEXTEND_TIMEOUT_USEC=30000000\nMONOTONIC_USEC=123456789", func(t *testing.T, m Message) {
			if m.MainPID != 4242 || m.ExtendTimeout != 30*time.Second || m.Monotonic != 123456789*time.Microsecond {
				t.Errorf("got %+v", m)
			}
		}},
		{"bad-numbers-are-zero", "MAINPID=-1\nEXTEND_TIMEOUT_USEC=soon\nMONOTONIC_USEC=99999999999999999999", func(t *testing.T, m Message) {
			if m.MainPID != 0 || m.ExtendTimeout != 0 || m.Monotonic != 0 {
				t.Errorf("got %+v", m)
			}
		}},
		{"unknown-keys-only-in-vars", "FDSTORE=1\nERRNO=2\nX_VIGIL=ok", func(t *testing.T, m Message) {
			want := map[string]string{"FDSTORE": "1", "ERRNO": "2", "X_VIGIL": "ok"}
			if !maps.Equal(m.Vars, want) || m.Malformed != 0 {
				t.Errorf("got %+v", m)
			}
		}},
		{"malformed-lines-skipped", "garbage\n=1\n1X=2\nREA DY=1\n\x00\nREADY=1\n\n", func(t *testing.T, m Message) {
			if !m.Ready || m.Malformed != 5 || len(m.Vars) != 1 {
				t.Errorf("got %+v", m)
			}
		}},
		{"empty", "", func(t *testing.T, m Message) {
			if m.Ready || len(m.Vars) != 0 || m.Malformed != 0 {
				t.Errorf("got %+v", m)
			}
		}},
		{"last-status-wins", "STATUS=one\nSTATUS=two", func(t *testing.T, m Message) {
			if m.Status != "two" || m.Vars["STATUS"] != "two" {
				t.Errorf("got %+v", m)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.check(t, parse([]byte(tt.in))) })
	}
}
