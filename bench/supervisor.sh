#!/usr/bin/env bash
# vigil's idle cost and signal-forwarding latency, measured beside tini in the
# same run. Expects bin/vigil (make build) and tini (apt-get install tini); it
# builds only its own measuring program (supervisor/internal/siglatency).
#   IDLE_SECONDS=30 SIGNALS=2000 ROUNDS=5 bash bench/supervisor.sh
set -euo pipefail
cd "$(dirname "$0")/.."

VIGIL=${VIGIL:-bin/vigil}
TINI=${TINI:-/usr/bin/tini}
IDLE=${IDLE_SECONDS:-30}
SIGNALS=${SIGNALS:-2000}
ROUNDS=${ROUNDS:-5}

[ -x "$VIGIL" ] || { echo "supervisor.sh: $VIGIL not found; run make build" >&2; exit 1; }
[ -x "$TINI" ] || { echo "supervisor.sh: $TINI not found; apt-get install tini" >&2; exit 1; }

tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

# rss_kib PID: resident set of the process itself (not its child).
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
# cpu_ticks PID: user + system time in clock ticks (fields 14 and 15 of stat,
# counted after the command name, which may contain spaces).
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
# switches PID: context switches of all its threads; each one is the thread
# going to sleep or being preempted, so an idle process's count is its wake-ups.
switches() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/ctxt_switches:/ {s += $2} END {print s}'; }
threads() { ls "/proc/$1/task" | wc -l; }

echo "== idle: supervising 'sleep 1000' for ${IDLE}s (after a 3s settle)"
"$VIGIL" -- sleep 1000 2>/dev/null &
vigil_pid=$!
pids+=("$vigil_pid")
# -s: tini is not PID 1 here; as a subreaper it does what vigil does.
"$TINI" -s -- sleep 1000 &
tini_pid=$!
pids+=("$tini_pid")
sleep 3

declare -A cpu0 sw0
for name in vigil tini; do
  pid_var=${name}_pid
  cpu0[$name]=$(cpu_ticks "${!pid_var}")
  sw0[$name]=$(switches "${!pid_var}")
done
sleep "$IDLE"
hz=$(getconf CLK_TCK)
printf '%-6s %10s %8s %14s %18s\n' "" "RSS" "threads" "CPU in ${IDLE}s" "wake-ups in ${IDLE}s"
for name in vigil tini; do
  pid_var=${name}_pid
  pid=${!pid_var}
  cpu_ms=$(( ($(cpu_ticks "$pid") - ${cpu0[$name]}) * 1000 / hz ))
  wakes=$(( $(switches "$pid") - ${sw0[$name]} ))
  printf '%-6s %7s KiB %8s %11s ms %18s\n' "$name" "$(rss_kib "$pid")" "$(threads "$pid")" "$cpu_ms" "$wakes"
done
echo "targets: vigil RSS <= 6144 KiB; no periodic wake-up more often than once a second"
echo "(vigil's only timer is the reaper's 30s safety tick: a few context switches across its threads per tick;"
echo " the first tick, 30s after start, costs some 60 while the Go runtime's sysmon backs off from its first wake.)"
kill "$vigil_pid" "$tini_pid"
wait "$vigil_pid" "$tini_pid" 2>/dev/null || true
pids=()

echo
echo "== signal forwarding latency"
go build -o "$tmp/siglatency" ./supervisor/internal/siglatency
"$tmp/siglatency" -vigil "$VIGIL" -tini "$TINI" -n "$SIGNALS" -rounds "$ROUNDS"
echo "target: vigil median <= 100µs; 'direct' is the same child signalled without a supervisor."
echo "SIGUSR1 and SIGPIPE take vigil's signalfd path (read and forwarded by one goroutine); HUP, INT, QUIT,"
echo "ABRT, TERM and SYS take its os/signal path (runtime handler, os/signal goroutine, then vigil; see README, Signals)."
