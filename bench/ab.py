#!/usr/bin/env python3
"""A/B of two vigil-server builds on the SQLite store, interleaved.

    python3 bench/ab.py OLD_BINARY NEW_BINARY [ROUNDS] [SLOT]

Both servers run at once, each on its own SQLite file. Each round fills both
with one-time secrets (untimed, wrk), waits 2 s, then runs short wrk slots
(-t2 -c32, SLOT long, default 2s) of GET /health, POST /create/secret and
GET of the filled one-time secrets, alternating between the two servers and
swapping which goes first every round. On this project's 2-vCPU VM the
machine's speed drifts by up to a third between regimes that last tens of
seconds, so two builds measured one after the other differ by more than most
changes do; interleaved short slots put both builds in the same regime.

It prints each round, then per build the median rates, ratios to /health and
server CPU per answered request, and the new build's rates over the old
build's, round by round, with their median. With GET_ORDER=random in the
environment the one-time secrets are read in a random order (the same for
both builds) rather than roughly in the order they were created. The
message is a ~1 KiB armored OpenPGP message made with gpg, as
bench/server.sh makes it.
"""
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

FILL_LUA = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [[%(payload)s]]
local f, counter = nil, 0
function setup(thread) counter = counter + 1; thread:set("path", "%(dir)s" .. counter .. ".txt") end
function init(args) f = io.open(path, "w"); f:setvbuf("line") end
function response(status, headers, body)
  if status == 200 then f:write(body:match('"message":"([^"]+)"'), "\\n") end
end
"""
GET_LUA = """local reqs, i, counter = {}, 0, 0
function setup(thread) counter = counter + 1; thread:set("n", counter) end
function init(args)
  local all = {}
  for line in io.popen("cat %(dir)s*.txt%(order)s"):lines() do all[#all + 1] = line end
  for j = n, #all, 2 do reqs[#reqs + 1] = wrk.format("GET", "/secret/" .. all[j]) end
  reqs[#reqs + 1] = wrk.format("GET", "/secret/AAAAAAAAAAAAAAAAAAAAAA")
end
function request() if i < #reqs then i = i + 1 end; return reqs[i] end
"""
KINDS = ("health", "create", "get")
# GET_ORDER=random reads the one-time secrets in a random order (the same
# for both builds); by default they are read roughly in the order they were
# created, as bench/server.sh reads them.
ORDER = {"": "", "created": "", "random": " | shuf --random-source=/dev/zero"}[os.environ.get("GET_ORDER", "")]


def message(work):
    path = os.path.join(work, "msg.asc")
    if shutil.which("gpg"):
        subprocess.run(["gpg", "--batch", "--quiet", "--symmetric", "--armor", "--pinentry-mode", "loopback",
                        "--passphrase", "bench", "-o", path], input=os.urandom(700), check=True,
                       env=dict(os.environ, GNUPGHOME=work))
        return open(path).read()
    sys.exit("gpg is missing: apt-get install -y gnupg")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_ticks(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def wrk(args):
    return subprocess.run(["wrk", "-t2", "-c32"] + args, capture_output=True, text=True, check=True).stdout


class Server:
    def __init__(self, name, binary, work):
        self.name, self.binary, self.port = name, binary, free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([binary, "-listen", f"127.0.0.1:{self.port}", "-store",
                                      f"sqlite:{work}/{name}.db"], env=dict(os.environ, VIGIL_LOG_LEVEL="warn"),
                                     stdout=subprocess.DEVNULL, stderr=open(f"{work}/{name}.log", "w"))
        self.results = {k: [] for k in KINDS}
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.1).close()
                return
            except OSError:
                time.sleep(0.05)
        sys.exit(f"{binary} did not start; see {work}/{name}.log")

    def measure(self, kind, slot, work, ids):
        if kind == "health":
            args = [self.base + "/health"]
        elif kind == "create":
            args = ["-s", f"{work}/post.lua", self.base + "/create/secret"]
        else:
            script = f"{work}/get-{self.name}.lua"
            open(script, "w").write(GET_LUA % {"dir": ids, "order": ORDER})
            args = ["-s", script, self.base]
        t0 = cpu_ticks(self.proc.pid)
        out = wrk([f"-d{slot}"] + args)
        t1 = cpu_ticks(self.proc.pid)
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        total = int(re.search(r"(\d+) requests in", out).group(1))
        bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        ok = total - (int(bad.group(1)) if bad and kind == "get" else 0)
        rps *= ok / total  # one-time GETs: 200s only
        cpu = (t1 - t0) / os.sysconf("SC_CLK_TCK") / max(ok, 1) * 1e6
        self.results[kind].append((rps, cpu))
        return rps


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 6
    slot = sys.argv[4] if len(sys.argv) > 4 else "2s"
    fill = f"{max(1, round(1.6 * float(slot.rstrip('s'))))}s"  # ids to spare at ~30k GETs/s
    work = tempfile.mkdtemp()
    servers = []
    try:
        payload = json.dumps({"message": message(work), "expiration": 3600, "one_time": True})
        open(f"{work}/post.lua", "w").write(
            'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = [[%s]]\n' % payload)
        servers = [Server("A", sys.argv[1], work), Server("B", sys.argv[2], work)]
        for r in range(rounds):
            order = servers if r % 2 == 0 else servers[::-1]
            for s in order:
                ids = f"{work}/ids-{s.name}-{r}/"
                os.makedirs(ids)
                open(f"{work}/fill.lua", "w").write(FILL_LUA % {"payload": payload, "dir": ids})
                wrk([f"-d{fill}", "-s", f"{work}/fill.lua", s.base + "/create/secret"])
            time.sleep(2)
            for kind in KINDS:
                for s in order:
                    s.measure(kind, slot, work, f"{work}/ids-{s.name}-{r}/")
            print(f"round {r}: " + " | ".join(
                f"{s.name} health {s.results['health'][-1][0]:.0f} create {s.results['create'][-1][0]:.0f} "
                f"get {s.results['get'][-1][0]:.0f}" for s in servers), flush=True)
        for s in servers:
            med = {k: statistics.median(x[0] for x in s.results[k]) for k in KINDS}
            cpu = {k: statistics.median(x[1] for x in s.results[k]) for k in KINDS}
            ratio = {k: statistics.median(x[0] / h[0] for x, h in zip(s.results[k], s.results["health"]))
                     for k in ("create", "get")}
            print(f"{s.name} {s.binary}: median req/s health {med['health']:.0f}, create {med['create']:.0f}, "
                  f"one-time get {med['get']:.0f}; ratios to health create {ratio['create']:.3f}, "
                  f"get {ratio['get']:.3f}; server CPU per request {cpu['health']:.1f}, {cpu['create']:.1f}, "
                  f"{cpu['get']:.1f} us")
        a, b = servers
        for k in KINDS:
            rel = [y[0] / x[0] for x, y in zip(a.results[k], b.results[k])]
            print(f"B/A {k}: median {statistics.median(rel):.3f}, rounds {' '.join(f'{x:.2f}' for x in rel)}")
    finally:
        for s in servers:
            s.proc.kill()
            s.proc.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
