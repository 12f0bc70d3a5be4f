package proctree

import (
	"bufio"
	"os"
	"os/exec"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	p, err := ParseStat([]byte("4242 (we) ird) name) S 17 4242 4242 0 -1 4194560 100\n"))
	if err != nil {
		t.Fatal(err)
	}
	if want := (Proc{Pid: 4242, PPid: 17, State: 'S'}); p != want {
		t.Fatalf("got %+v, want %+v", p, want)
	}
	for _, bad := range []string{"", "12 no-parens S 1", "x (a) S 1", "12 (a) S", "12 (a) S y"} {
		if _, err := ParseStat([]byte(bad)); err == nil {
			t.Errorf("ParseStat(%q) succeeded", bad)
		}
	}
}

func TestDescendantsSkipsZombiesAndStrangers(t *testing.T) {
	procs := []Proc{
		{1, 0, 'S'}, {10, 1, 'S'}, // 10 is the root
		{11, 10, 'S'}, {12, 11, 'R'}, {13, 10, 'Z'}, {14, 13, 'S'},
		{20, 1, 'S'}, {21, 20, 'S'}, // another tree
	}
	got := descendants(procs, 10)
	if want := []int{11, 12}; !reflect.DeepEqual(got, want) {
		t.Fatalf("descendants = %v, want %v", got, want)
	}
}

// A real tree: sh starts a setsid'd grandchild (out of the process group)
// and a plain one; both must be found.
func TestDescendantsOfRealTree(t *testing.T) {
	cmd := exec.Command("/bin/sh", "-c", `setsid sleep 1000 & echo $!; sleep 1000 & echo $!; wait`)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(out)
	var want []int
	for i := 0; i < 2; i++ {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		n, _ := strconv.Atoi(strings.TrimSpace(line))
		want = append(want, n)
	}
	t.Cleanup(func() {
		for _, p := range want {
			syscall.Kill(p, syscall.SIGKILL)
		}
		cmd.Process.Kill()
		cmd.Wait()
	})
	want = append(want, cmd.Process.Pid)
	sort.Ints(want)
	// `setsid sleep` may still be setsid when first read: poll for the exec.
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := Descendants(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		sort.Ints(got)
		if reflect.DeepEqual(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("descendants = %v, want %v", got, want)
		}
		time.Sleep(10 * time.Millisecond) // polling interval, bounded by the deadline
	}
}
