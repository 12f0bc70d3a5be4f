package supervise

import "testing"

func TestParseReadyMode(t *testing.T) {
	for _, s := range []string{"started", "notify"} {
		m, err := ParseReadyMode(s)
		if err != nil || m.String() != s {
			t.Errorf("ParseReadyMode(%q) = %v, %v", s, m, err)
		}
	}
	if _, err := ParseReadyMode("ready"); err == nil {
		t.Error("ParseReadyMode accepted ready")
	}
	if ReadyMode(0) != ReadyStarted {
		t.Error("the zero mode is not started")
	}
}

func TestParseStrategy(t *testing.T) {
	for _, s := range []string{"restart", "signal"} {
		st, err := ParseStrategy(s)
		if err != nil || st.String() != s {
			t.Errorf("ParseStrategy(%q) = %v, %v", s, st, err)
		}
	}
	if _, err := ParseStrategy("reexec"); err == nil {
		t.Error("ParseStrategy accepted reexec")
	}
	if Strategy(0) != StrategyRestart {
		t.Error("the zero strategy is not restart")
	}
}
