#!/usr/bin/env bash
# make bench: every benchmark, in one run on this machine.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -srm), $(go version | awk '{print $3}')"
echo
echo "== vigil-server, SQLite store (embedded default)"
bash bench/server.sh sqlite
echo
echo "== vigil-server, Redis store"
if command -v redis-server >/dev/null; then bash bench/server.sh redis; else echo "SKIPPED: redis-server missing (apt-get install -y redis-server)"; fi
for extra in supervisor reload; do
  if [ -f "bench/$extra.sh" ]; then
    echo
    echo "== $extra"
    # The supervisor benchmark measures vigil beside tini, in the same run.
    if [ "$extra" = supervisor ] && [ ! -x "${TINI:-/usr/bin/tini}" ]; then
      echo "SKIPPED: tini missing (apt-get install -y tini)"
      continue
    fi
    bash "bench/$extra.sh"
  fi
done
