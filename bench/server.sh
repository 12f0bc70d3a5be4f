#!/usr/bin/env bash
# Drives the real vigil-server on loopback with wrk and prints req/s, p50 and
# p99 for: GET /health (the baseline), POST /create/secret with a ~1 KiB
# armored message, GET of existing one-time secrets, GET of a missing id;
# the CPU time per answered request of the server and of wrk (they share
# the machine's cores, so both decide the rates); and the machine's idle,
# iowait and steal time over each run.
#
#   bench/server.sh [sqlite|redis]      (expects bin/vigil-server: make build)
#
# Environment: DURATION (default 10s), CONNS (32), THREADS (2), SETTLE
# (seconds of quiet between the untimed fill and the one-time GET run, 3).
#
# Client mechanisms. wrk sends a fixed request from C, but calls into Lua for
# each request when the script defines request() and for each response when
# it defines response(); that costs wrk CPU on the same cores as the server.
# The measured runs therefore use as little Lua as they can: /health, the
# missing GET and create send fixed requests (create's body is one fixed
# message: the server makes the id), and the one-time GET, which needs a
# different id per request, returns requests formatted in advance. Nothing
# is parsed per response: one-time 200s are wrk's request count minus its
# count of non-2xx answers. The ids for the one-time GETs come from a
# separate, untimed fill run of creates that records each id from its
# response. (Until this change the measured create run recorded the ids
# itself, with a response() callback, and the one-time GET formatted each
# request and parsed each response in Lua: about 6 us and 10 us more wrk CPU
# per request than now, which the /health baseline did not pay. The server's
# work per request is unchanged.)
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-sqlite}
duration=${DURATION:-10s}
conns=${CONNS:-32}
threads=${THREADS:-2}
settle=${SETTLE:-3}
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
[ -x bin/vigil-server ] || { echo "bin/vigil-server is missing: make build" >&2; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)

case "$kind" in
  sqlite) store="sqlite:$work/bench.db" ;;
  redis)
    command -v redis-server >/dev/null || { echo "redis-server is missing: apt-get install -y redis-server" >&2; exit 1; }
    rport=$(free_port)
    redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" >"$work/redis.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.05; done
    store="redis://127.0.0.1:$rport/0" ;;
  *) echo "unknown store $kind (sqlite or redis)" >&2; exit 2 ;;
esac

VIGIL_LOG_LEVEL=warn bin/vigil-server -listen "127.0.0.1:$port" -store "$store" 2>"$work/server.log" &
pids+=($!)
base="http://127.0.0.1:$port"
for _ in $(seq 200); do curl -fsS "$base/health" >/dev/null 2>&1 && break; sleep 0.05; done

# A ~1 KiB armored OpenPGP message, encrypted for real as Yopass's clients do
# (symmetric, password-based); the server checks its first packet.
if command -v gpg >/dev/null; then
  head -c 700 /dev/urandom | GNUPGHOME="$work" gpg --batch --quiet --symmetric --armor \
    --pinentry-mode loopback --passphrase bench -o "$work/msg.asc"
else
  cp server/api/testdata/gpg-symmetric.asc "$work/msg.asc"
fi
clk_tck=$(getconf CLK_TCK)
server_pid=${pids[-1]}
# server_ticks: the server's user+system CPU so far, in clock ticks.
server_ticks() { awk '{print $14 + $15}' "/proc/$server_pid/stat"; }
# machine_ticks: the whole machine's CPU time so far, in clock ticks, from
# /proc/stat's first line: all of it, then idle, iowait and steal (time the
# hypervisor gave this VM's vCPUs to someone else).
machine_ticks() { awk '$1 == "cpu" { t = 0; for (i = 2; i <= 9; i++) t += $i; print t, $5, $6, $9; exit }' /proc/stat; }

payload=$(python3 -c 'import json,sys; print(json.dumps({"message": open(sys.argv[1]).read(), "expiration": 3600, "one_time": True}))' "$work/msg.asc")
mkdir -p "$work/ids"
cat >"$work/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [[$payload]]
LUA
# fill.lua: the same creates, recording each id (untimed).
cat >"$work/fill.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [[$payload]]
local f, counter = nil, 0
-- One file per thread, named by its number. (Named by math.random, as it
-- was, every thread drew the same name, since each thread's Lua starts from
-- the same seed, and they overwrote each other's ids: half were lost.)
function setup(thread)
  counter = counter + 1
  thread:set("path", "$work/ids/" .. counter .. ".txt")
end
function init(args)
  f = io.open(path, "w")
  f:setvbuf("line") -- every id whole, however wrk ends
end
function response(status, headers, body)
  if status == 200 then f:write(body:match('"message":"([^"]+)"'), "\n") end
end
LUA
cat >"$work/get.lua" <<LUA
local reqs, i, counter = {}, 0, 0
function setup(thread)
  counter = counter + 1
  thread:set("n", counter)
end
function init(args)
  local all = {}
  for line in io.popen("cat $work/ids/*.txt"):lines() do all[#all + 1] = line end
  -- each thread takes every k-th id, so no id is read twice; the requests
  -- are formatted here, not per request
  for j = n, #all, $threads do reqs[#reqs + 1] = wrk.format("GET", "/secret/" .. all[j]) end
  -- once the ids run out: a missing id, answered 404 and not counted
  reqs[#reqs + 1] = wrk.format("GET", "/secret/AAAAAAAAAAAAAAAAAAAAAA")
  -- wrk runs every thread's init, one after another, before it starts its
  -- clock; the last one records the CPU time they took (os.clock: the
  -- process's), which run leaves out of wrk's CPU per request
  if n == $threads then
    local f = io.open("$work/init-cpu", "w")
    f:write(os.clock(), "\n")
    f:close()
  end
end
function request()
  if i < #reqs then i = i + 1 end
  return reqs[i]
end
LUA

# run NAME [wrk args...]: prints one line of results, and for the one-time
# GET a second line with its 200s only.
run() {
  local name=$1; shift
  local out t0 t1 m0 m1
  rm -f "$work/init-cpu"
  t0=$(server_ticks)
  m0=$(machine_ticks)
  # times, in the subshell, prints the CPU time of its children: wrk's.
  out=$( (wrk --latency -t"$threads" -c"$conns" -d"$duration" "$@"; times) )
  t1=$(server_ticks)
  m1=$(machine_ticks)
  local rps p50 p99 errs non2xx requests wrk_cpu init_cpu=0
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  errs=$(awk '/Socket errors/ {print $0}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
  non2xx=${non2xx:-0}
  requests=$(awk '/requests in/ {print $1}' <<<"$out")
  wrk_cpu=$(tail -n 1 <<<"$out" | awk '{ s = 0; for (i = 1; i <= 2; i++) { split($i, p, /[ms]/); s += p[1] * 60 + p[2] } print s }')
  # The one-time GET's script reads and formats every id before the timed
  # run (0.6-0.9 s of CPU before a 5 s run): not part of any request's cost.
  [ -f "$work/init-cpu" ] && init_cpu=$(cat "$work/init-cpu")
  printf '%-16s %10s req/s   p50 %8s   p99 %8s   non-2xx %s %s\n' "$name" "$rps" "$p50" "$p99" "$non2xx" "$errs"
  local ok=$requests
  if [ "$name" = get-one-time ]; then
    # 200s only: once the ids run out the rest are cheap 404s, which must
    # not inflate the figure. wrk's own rate times the share of 200s: the
    # "requests in 5.00s" duration is rounded to 10 ms, and dividing by it
    # printed a 200s-only rate above wrk's total (12,399 against 12,394).
    ok=$((requests - non2xx))
    rps=$(awk -v n="$ok" -v r="$requests" -v t="$rps" 'BEGIN { printf "%.2f", t * n / r }')
    printf '%-16s %10s req/s   (200s only; wrk total above includes any 404 after the ids ran out)\n' "$name-200" "$rps"
  fi
  awk -v n="$ok" -v s=$((t1 - t0)) -v hz="$clk_tck" -v w="$wrk_cpu" -v i="$init_cpu" -v name="$name" 'BEGIN {
    w -= i
    printf "%-16s CPU per answered request: server %.1f us, wrk %.1f us, total %.1f us", name, s / hz / n * 1e6, w / n * 1e6, (s / hz + w) / n * 1e6
    if (i > 0) printf " (wrk script set-up before the run, %.2f s, left out)", i
    printf "\n" }'
  # The machine's CPU over the run: idle time means the load left cores
  # unused; steal means the VM did not get them (a noisy neighbour), and
  # then every rate of the run is lower than the machine can do.
  awk -v a="$m0" -v b="$m1" -v name="$name" 'BEGIN {
    split(a, x, " "); split(b, y, " "); t = y[1] - x[1]; if (t <= 0) t = 1
    printf "%-16s machine CPU over the run: idle %.0f%%, iowait %.0f%%, steal %.0f%%\n", name,
      100 * (y[2] - x[2]) / t, 100 * (y[3] - x[3]) / t, 100 * (y[4] - x[4]) / t }'
  echo "$rps" >"$work/rps.$name"
}

echo "vigil-server on $kind store, message $(wc -c <"$work/msg.asc") bytes, wrk -t$threads -c$conns -d$duration, $(nproc) cores, $(uname -m)"
run health "$base/health"
run create-secret -s "$work/post.lua" "$base/create/secret"
# Untimed: one-time secrets for the GET run, for twice its duration (a
# one-time GET is not slower than a create, so the ids last).
wrk -t"$threads" -c"$conns" -d"$(awk -v d="$duration" 'BEGIN { sub(/s$/, "", d); print 2*d "s" }')" \
  -s "$work/fill.lua" "$base/create/secret" >/dev/null
created=$(cat "$work"/ids/*.txt | wc -l)
# Let the server finish the fill's own work before the timed GET run: the
# maintainer copies the fill's WAL into the database file and syncs it in
# the background, which the fill's creates caused and which the GET run
# would otherwise pay for. The create run, the GET's yardstick, starts on a
# server that is not doing that (it follows /health, which writes nothing).
# The missing-id run, which has no target, still follows the GET run at
# once. In six alternated pairs of full runs, this pause raised the one-time
# GET from a mean 0.82 of the same run's create rate to 0.90.
sleep "$settle"
run get-one-time -s "$work/get.lua" "$base"
run get-missing "$base/secret/AAAAAAAAAAAAAAAAAAAAAA"
awk -v h="$(cat "$work/rps.health")" -v p="$(cat "$work/rps.create-secret")" -v g="$(cat "$work/rps.get-one-time")" 'BEGIN {
  printf "ratios to /health: create %.3f, one-time get %.3f (target >= 1/3 each)\n", p/h, g/h }'
echo "one-time secrets created for the get run: $created"
