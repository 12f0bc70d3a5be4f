#!/usr/bin/env bash
# Zero-downtime reload, measured on the real binaries (bin/vigil supervising
# bin/vigil-server, SQLite store, loopback):
#  (a) failed requests and p99 latency of wrk (keep-alive connections, GET
#      /health and POST /create/secret alternately) while the server's config
#      file is rewritten RELOADS times, each reload waited for;
#  (b) the time from each file write to the new child serving (GET /config on
#      a fresh connection shows the new value) and to the old child gone,
#      next to vigil-server's own start time (exec -> READY=1, run alone);
#  (c) throughput of vigil-server under vigil versus alone, in the same run:
#      wrk on GET /health and on POST /create/secret, ROUNDS rounds of one
#      run each (A/B, then B/A, ...): the ratio of the medians and the median
#      of the per-round ratios; and (part "together") the same with both
#      sides loaded at once, which cancels what the rest of the machine does.
#
#   bash bench/reload.sh            (expects bin/vigil, bin/vigil-server: make build)
#
# Environment: RELOADS (100), ROUNDS (4), DURATION (5s, per A/B run),
# CONNS (32), THREADS (2), PARTS ("startup ab together reloads": which parts, in order).
set -euo pipefail
cd "$(dirname "$0")/.."
reloads=${RELOADS:-100}
rounds=${ROUNDS:-4}
duration=${DURATION:-5s}
conns=${CONNS:-32}
threads=${THREADS:-2}
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
bin=${BIN:-bin}
for b in "$bin/vigil" "$bin/vigil-server"; do
  [ -x "$b" ] || { echo "$b is missing: make build" >&2; exit 1; }
done

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/reloadprobe" ./bench/reloadprobe
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_ready() {
  for _ in $(seq 400); do curl -fsS "$1/ready" >/dev/null 2>&1 && return 0; sleep 0.05; done
  echo "no answer from $1/ready; logs:" >&2; cat "$work"/*.log >&2; exit 1
}
root=$(pwd)

# The server's config: the shipped one, with its own store and quiet logs.
# Configs and stores live in separate directories, as configs/ and data/ do:
# vigil watches the config's directory, and a store's every write would be
# an inotify event for it to filter.
mkdir "$work/etc" "$work/data"
sed -e "s|^store = .*|store = \"sqlite:$work/data/under-vigil.db\"|" -e 's|^log_level = .*|log_level = "warn"|' \
  configs/server.toml >"$work/etc/server.toml"
sed -e "s|^store = .*|store = \"sqlite:$work/data/alone.db\"|" "$work/etc/server.toml" >"$work/etc/alone.toml"

# vigil's config: the shipped one (drain, readiness, debounce 100ms, check),
# with absolute paths and a free port.
port=$(free_port)
sed -e "s|\"bin/vigil-server\"|\"$(cd "$bin" && pwd)/vigil-server\"|g" -e "s|\"configs/server.toml\"|\"$work/etc/server.toml\"|g" \
  -e "s|127.0.0.1:1337|127.0.0.1:$port|" configs/vigil.toml >"$work/etc/vigil.toml"
grep -q "127.0.0.1:$port" "$work/etc/vigil.toml" || { echo "configs/vigil.toml has no 127.0.0.1:1337 listen address" >&2; exit 1; }

# Every process that is measured gets a session of its own, as vigil does
# under systemd or as a container's PID 1: with the kernel's
# sched_autogroup, a session is a scheduling group, and one sharing the
# script's group with wrk would get a smaller share of the CPU (vigil's fork
# of each check and new child, the reaping and READY=1 would wait behind wrk).
setsid "$bin/vigil" -config "$work/etc/vigil.toml" 2>"$work/vigil.log" &
vigil_pid=$!
pids+=("$vigil_pid")
under="http://127.0.0.1:$port"
wait_ready "$under"

aport=$(free_port)
# In a session of its own, as vigil starts its child (see above).
setsid "$bin/vigil-server" -config "$work/etc/alone.toml" -listen "127.0.0.1:$aport" 2>"$work/alone.log" &
alone_pid=$!
pids+=("$alone_pid")
alone="http://127.0.0.1:$aport"
wait_ready "$alone"

payload=$(python3 -c 'import json,sys; print(json.dumps({"message": open(sys.argv[1]).read(), "expiration": 3600, "one_time": True}))' server/api/testdata/gpg-symmetric.asc)
cat >"$work/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [[$payload]]
LUA
cat >"$work/mix.lua" <<LUA
local body = [[$payload]]
local headers = {["Content-Type"] = "application/json"}
local i = 0
function request()
  i = i + 1
  if i % 2 == 0 then return wrk.format("POST", "/create/secret", headers, body) end
  return wrk.format("GET", "/health")
end
LUA

# stats FILE: "req/s p50 p99 errors non2xx" from wrk's output.
stats() {
  awk '/Requests\/sec/ {rps=$2}
       $1=="50%" {p50=$2} $1=="99%" {p99=$2}
       /Socket errors/ {gsub(",", ""); err=$4+$6+$8+$10}
       /Non-2xx/ {non=$NF}
       END {printf "%s %s %s %d %d\n", rps, p50, p99, err, non}' "$1"
}

echo "wrk -t$threads -c$conns, $(nproc) cores, $(uname -m); vigil's debounce and timeouts as in configs/vigil.toml"

part_startup() {
  echo
  echo "== (b) vigil-server's own start time, alone (exec -> READY=1, no load)"
  "$work/reloadprobe" startup -server "$bin/vigil-server" -config "$work/etc/alone.toml" -n 20
}

part_reloads() {
  echo
  echo "== (a)+(b) $reloads reloads under load (wrk: GET /health and POST /create/secret alternately, keep-alive)"
  wrk --latency -t"$threads" -c"$conns" -d1h -s "$work/mix.lua" "$under" >"$work/wrk-reload.out" 2>&1 &
  local wrk_pid=$!
  pids+=("$wrk_pid")
  sleep 1
  setsid "$work/reloadprobe" reloads -config "$work/etc/server.toml" -url "$under" -vigil-pid "$vigil_pid" -log "$work/vigil.log" -n "$reloads"
  kill -INT "$wrk_pid"
  wait "$wrk_pid" || true
  local rps p50 p99 errs non2xx
  read -r rps p50 p99 errs non2xx < <(stats "$work/wrk-reload.out")
  printf 'wrk across the reloads: %s req/s   p50 %s   p99 %s   socket errors %s   non-2xx %s\n' "$rps" "$p50" "$p99" "$errs" "$non2xx"
  grep -E 'Socket errors|Non-2xx' "$work/wrk-reload.out" | sed 's/^ */  wrk: /' || true
  echo "vigil logged $(grep -c 'reload done' "$work/vigil.log" || true) reloads done, $(grep -c 'reload failed' "$work/vigil.log" || true) failed"
  echo "targets: 0 socket errors and 0 non-2xx; the write -> ready figure is the target line above"
  if [ "$errs" != 0 ] || [ "$non2xx" != 0 ]; then echo "FAILED REQUESTS during the reloads"; fi
}

median() { sort -g "$1" | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

# cpu_ticks PID: user + system time of the process (all its threads, not
# its children), in clock ticks; fields 14 and 15 of stat, counted after
# the command name.
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }

# served_pid: the vigil-server child vigil runs (not a -check).
served_pid() {
  local p
  for p in $(cat /proc/"$vigil_pid"/task/*/children); do
    if tr '\0' ' ' <"/proc/$p/cmdline" | grep -q -- '-config' && ! tr '\0' ' ' <"/proc/$p/cmdline" | grep -q -- '-check'; then
      echo "$p"; return
    fi
  done
}

# wrk_run NAME SIDE DURATION: one wrk run of NAME (health or create)
# against SIDE (alone or under); prints "req/s requests server-ticks
# vigil-ticks".
wrk_run() {
  local url=$alone pid=$alone_pid out="$work/ab.$1.$2.$RANDOM" s0 v0 s1 v1
  if [ "$2" = under ]; then url=$under pid=$(served_pid); fi
  s0=$(cpu_ticks "$pid") v0=$(cpu_ticks "$vigil_pid")
  if [ "$1" = health ]; then
    wrk -t"$threads" -c"$conns" -d"$3" "$url/health" >"$out" 2>&1
  else
    wrk -t"$threads" -c"$conns" -d"$3" -s "$work/post.lua" "$url/create/secret" >"$out" 2>&1
  fi
  s1=$(cpu_ticks "$pid") v1=$(cpu_ticks "$vigil_pid")
  awk -v s=$((s1 - s0)) -v v=$((v1 - v0)) '/Requests\/sec/ {rps=$2} / requests in / {n=$1} END {print rps, n, s, v}' "$out"
}

part_ab() {
  echo
  echo "== (c) throughput under vigil versus alone: $rounds rounds, each one run of both (order alternating), $duration each, after a 1s warm-up of each"
  local hz name r first second a b
  hz=$(getconf CLK_TCK)
  : >"$work/vigil-ticks"
  for name in health create; do
    wrk_run "$name" alone 1s >/dev/null
    wrk_run "$name" under 1s >/dev/null
    : >"$work/ratio.$name"; : >"$work/cpu.$name"
    echo "$name: round  alone req/s  under req/s  ratio   server CPU per request: alone  under  ratio"
    for r in $(seq "$rounds"); do
      # Alternate who goes first (ABBA): a server's background work after a
      # run (WAL checkpoint) then burdens both sides alike.
      first=alone second=under
      if [ $((r % 2)) = 0 ]; then first=under second=alone; fi
      wrk_run "$name" "$first" "$duration" >"$work/run.$first"
      wrk_run "$name" "$second" "$duration" >"$work/run.$second"
      read -r a an as _ <"$work/run.alone"
      read -r b bn bs bv <"$work/run.under"
      echo "$bv" >>"$work/vigil-ticks"
      echo "$a" >>"$work/rps.$name.alone"
      echo "$b" >>"$work/rps.$name.under"
      awk -v a="$a" -v b="$b" 'BEGIN {printf "%.4f\n", b/a}' >>"$work/ratio.$name"
      # CPU time per request: what the server spends, whatever share of
      # the machine it got; a cost of vigil would show here too.
      awk -v an="$an" -v as="$as" -v bn="$bn" -v bs="$bs" -v hz="$hz" \
        'BEGIN {ca = as / hz / an * 1e6; cb = bs / hz / bn * 1e6; printf "%.4f\n", cb / ca > "/dev/stderr"; printf "%.1f %.1f\n", ca, cb}' \
        2>>"$work/cpu.$name" >"$work/cpu.round"
      read -r ca cb <"$work/cpu.round"
      printf '       %5d  %11.0f  %11.0f  %.3f   %27.1fus %5.1fus  %.3f\n' "$r" "$a" "$b" "$(tail -1 "$work/ratio.$name")" "$ca" "$cb" "$(tail -1 "$work/cpu.$name")"
    done
    awk -v n="$name" -v a="$(median "$work/rps.$name.alone")" -v b="$(median "$work/rps.$name.under")" \
      -v q="$(median "$work/ratio.$name")" -v lo="$(sort -g "$work/ratio.$name" | head -1)" -v hi="$(sort -g "$work/ratio.$name" | tail -1)" \
      -v c="$(median "$work/cpu.$name")" -v clo="$(sort -g "$work/cpu.$name" | head -1)" -v chi="$(sort -g "$work/cpu.$name" | tail -1)" \
      'BEGIN {printf "%-7s req/s under vigil / alone: median of round ratios %.3f (range %.3f to %.3f; medians %.0f / %.0f = %.3f); target >= 0.98\n        CPU per request under vigil / alone: median %.3f (range %.3f to %.3f): above 1 would be a cost of running under vigil\n", n, q, lo, hi, b, a, b/a, c, clo, chi}'
  done
  awk -v hz="$(getconf CLK_TCK)" -v n="$((rounds * 2))" -v d="$duration" '{t += $1}
    END {printf "vigil itself (not its child) used %d ms of CPU during the %d runs through it (%s each): it is not in the request path\n", t * 1000 / hz, n, d}' "$work/vigil-ticks"
}

# part_together: the same comparison with both sides loaded at once, by two
# wrk processes started together, so that whatever else the machine does
# falls on both alike; each server has its own session (a scheduling group
# of its own under sched_autogroup), so each gets the same share of the
# cores, and a cost of running under vigil would show as fewer requests
# served in that share.
part_together() {
  echo
  echo "== (c') throughput under vigil versus alone, both loaded at once: $rounds rounds of $duration, after a 1s warm-up"
  local hz name r a an as b bn bs s0 s1 u0 u1 upid
  hz=$(getconf CLK_TCK)
  for name in health create; do
    : >"$work/together.$name"; : >"$work/together-cpu.$name"
    echo "$name: round  alone req/s  under req/s  ratio   server CPU per request: alone  under  ratio"
    for r in $(seq 0 "$rounds"); do
      upid=$(served_pid)
      s0=$(cpu_ticks "$alone_pid") u0=$(cpu_ticks "$upid")
      local d=$duration
      if [ "$r" = 0 ]; then d=1s; fi # warm-up, not counted
      if [ "$name" = health ]; then
        wrk -t"$threads" -c"$conns" -d"$d" "$alone/health" >"$work/tog.alone" 2>&1 &
        wrk -t"$threads" -c"$conns" -d"$d" "$under/health" >"$work/tog.under" 2>&1
      else
        wrk -t"$threads" -c"$conns" -d"$d" -s "$work/post.lua" "$alone/create/secret" >"$work/tog.alone" 2>&1 &
        wrk -t"$threads" -c"$conns" -d"$d" -s "$work/post.lua" "$under/create/secret" >"$work/tog.under" 2>&1
      fi
      wait $!
      s1=$(cpu_ticks "$alone_pid") u1=$(cpu_ticks "$upid")
      [ "$r" = 0 ] && continue
      read -r a an < <(awk '/Requests\/sec/ {rps=$2} / requests in / {n=$1} END {print rps, n}' "$work/tog.alone")
      read -r b bn < <(awk '/Requests\/sec/ {rps=$2} / requests in / {n=$1} END {print rps, n}' "$work/tog.under")
      awk -v a="$a" -v b="$b" 'BEGIN {printf "%.4f\n", b/a}' >>"$work/together.$name"
      awk -v an="$an" -v as=$((s1 - s0)) -v bn="$bn" -v bs=$((u1 - u0)) -v hz="$hz" -v a="$a" -v b="$b" -v r="$r" -v f="$work/together-cpu.$name" \
        'BEGIN {ca = as / hz / an * 1e6; cb = bs / hz / bn * 1e6; printf "%.4f\n", cb / ca >> f
          printf "       %5d  %11.0f  %11.0f  %.3f   %27.1fus %5.1fus  %.3f\n", r, a, b, b / a, ca, cb, cb / ca}'
    done
    awk -v n="$name" -v q="$(median "$work/together.$name")" -v lo="$(sort -g "$work/together.$name" | head -1)" -v hi="$(sort -g "$work/together.$name" | tail -1)" \
      -v c="$(median "$work/together-cpu.$name")" -v clo="$(sort -g "$work/together-cpu.$name" | head -1)" -v chi="$(sort -g "$work/together-cpu.$name" | tail -1)" \
      'BEGIN {printf "%-7s req/s under vigil / alone, loaded together: median %.3f (range %.3f to %.3f); target >= 0.98\n        CPU per request under vigil / alone: median %.3f (range %.3f to %.3f)\n", n, q, lo, hi, c, clo, chi}'
  done
}

# Throughput first, while both stores are equally fresh.
for part in ${PARTS:-startup ab together reloads}; do "part_$part"; done
