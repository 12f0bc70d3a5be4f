#!/usr/bin/env bash
# Drives the real vigil-server on loopback with wrk and prints req/s, p50 and
# p99 for: GET /health (the baseline), POST /create/secret with a ~1 KiB
# armored message, GET of existing one-time secrets, GET of a missing id.
#
#   bench/server.sh [sqlite|redis]      (expects bin/vigil-server: make build)
#
# Environment: DURATION (default 10s), CONNS (32), THREADS (2).
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-sqlite}
duration=${DURATION:-10s}
conns=${CONNS:-32}
threads=${THREADS:-2}
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
payload=$(python3 -c 'import json,sys; print(json.dumps({"message": open(sys.argv[1]).read(), "expiration": 3600, "one_time": True}))' "$work/msg.asc")
mkdir -p "$work/ids"
cat >"$work/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [[$payload]]
local f
function setup(thread) thread:set("dir", "$work/ids") end
function init(args) f = io.open(dir .. "/" .. tostring(math.random(1, 1e9)) .. ".txt", "w") end
function response(status, headers, body)
  if status == 200 then f:write(body:match('"message":"([^"]+)"'), "\n") end
end
LUA
cat >"$work/get.lua" <<LUA
local ids, i, counter, all_threads = {}, 0, 0, {}
function setup(thread)
  counter = counter + 1
  thread:set("n", counter)
  all_threads[counter] = thread
end
-- The one-time rate counts only the 200s: once the ids run out the rest are
-- cheap 404s, which must not inflate the figure.
function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(all_threads) do total = total + t:get("ok") end
  io.write(string.format("one-time 200s: %d in %.3f s\n", total, summary.duration / 1e6))
end
function init(args)
  local all = {}
  for line in io.popen("cat $work/ids/*.txt"):lines() do all[#all + 1] = line end
  -- each thread takes every k-th id, so no id is read twice
  for j = n, #all, $threads do ids[#ids + 1] = all[j] end
end
ok = 0 -- global: done() reads it with thread:get
function response(status, headers, body)
  if status == 200 then ok = ok + 1 end
end
function request()
  i = i + 1
  local id = ids[i] or "AAAAAAAAAAAAAAAAAAAAAA"
  return wrk.format("GET", "/secret/" .. id)
end
LUA

# run NAME [wrk args...]: prints one line of results.
run() {
  local name=$1; shift
  local out
  out=$(wrk --latency -t"$threads" -c"$conns" -d"$duration" "$@")
  local rps p50 p99 errs non2xx
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  errs=$(awk '/Socket errors/ {print $0}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
  printf '%-16s %10s req/s   p50 %8s   p99 %8s   non-2xx %s %s\n' "$name" "$rps" "$p50" "$p99" "${non2xx:-0}" "$errs"
  local ok200
  ok200=$(awk '/one-time 200s:/ {printf "%.2f", $3 / $5}' <<<"$out")
  if [ -n "$ok200" ]; then
    printf '%-16s %10s req/s   (200s only; wrk total above includes any 404 after the ids ran out)\n' "$name-200" "$ok200"
    rps=$ok200
  fi
  echo "$rps" >"$work/rps.$name"
}

echo "vigil-server on $kind store, message $(wc -c <"$work/msg.asc") bytes, wrk -t$threads -c$conns -d$duration, $(nproc) cores, $(uname -m)"
run health "$base/health"
DURATION_SAVED=$duration; duration=$(awk -v d="$duration" 'BEGIN { sub(/s$/, "", d); print 2*d "s" }')
run create-secret -s "$work/post.lua" "$base/create/secret"
duration=$DURATION_SAVED
created=$(cat "$work"/ids/*.txt | wc -l)
run get-one-time -s "$work/get.lua" "$base"
run get-missing "$base/secret/AAAAAAAAAAAAAAAAAAAAAA"
awk -v h="$(cat "$work/rps.health")" -v p="$(cat "$work/rps.create-secret")" -v g="$(cat "$work/rps.get-one-time")" 'BEGIN {
  printf "ratios to /health: create %.2f, one-time get %.2f (target >= 0.33 each)\n", p/h, g/h }'
echo "one-time secrets created for the get run: $created"
