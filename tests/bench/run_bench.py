#!/usr/bin/python3
"""The relay benchmark: qq-gateway-sim -> qq-gateway-relay -> bench-subscriber on loopback, against the limit
of the same simulator flood into bench-lws-sink (a libwebsockets client that does nothing with the frames) and
the floor (bench-lws-sink --framing relay: a raw socket read by the relay's own frame reader).

Measures, in one run:
  * flood throughput (events/s) for 1, 16 and 256 shards and events of 300 B, 2 KiB and 64 KiB, for the relay
    and for the limit, with the relay's CPU seconds per million events and peak RSS;
  * added latency (simulator write to subscriber receive, both CLOCK_MONOTONIC) p50/p99/p99.9 at 1 000 and
    10 000 events/s, with the sim -> bench-lws-sink latency at the same rates as a baseline;
  * the relay's RSS and CPU with 1 000 idle shards (one simulator), against one idle shard, over ws:// and
    over wss://.
Prints Markdown tables (the ones in docs/performance.md) and writes every number to --json.

    /usr/bin/python3 tests/bench/run_bench.py --bin-dir build-bench/bin [--quick] [--json FILE]

Run it on a quiet machine: the simulator, the relay and the subscriber share the cores.
"""
import argparse
import json
import os
import platform
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request

CLK_TCK = os.sysconf("SC_CLK_TCK")
TLS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "tls")
TLS_CA = os.path.join(TLS_DIR, "ca.pem")
APP_ID = "102000000"
SIM_SECRET = "sim-secret"
SINK_BOT_TOKEN = "bench"  # the sink identifies with the legacy static token, the relay with access tokens
EVENT_TOPIC = "C2C_MESSAGE_CREATE"

FULL = {
    "shards": [1, 16, 256],
    "sizes": [300, 2048, 65536],
    # events per flood, by event size: a few seconds of relay work each
    "flood_events": {300: 400_000, 2048: 120_000, 65536: 6_000},
    "repeats": 3,  # each flood runs this many times; the best run counts (noise only ever slows a run down)
    "rates": [1_000, 10_000],
    "latency_shards": 16,
    "latency_size": 300,
    "latency_warmup_s": 1.0,
    "latency_seconds": 10.0,
    "idle_shards": 1000,
    # Heartbeats are the only idle work. Every shard's first one is due one interval after its Hello, and all
    # shards connect within a second, so they come in bursts; the window covers exactly two of them.
    "idle_heartbeat_ms": 5000,
    "idle_settle_s": 2.5,
    "idle_window_s": 10.0,
}
QUICK = dict(FULL, flood_events={300: 100_000, 2048: 40_000, 65536: 2_500}, repeats=1, latency_warmup_s=0.5,
             latency_seconds=3.0, idle_window_s=5.0)


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def wait_for(predicate, timeout, what, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise RuntimeError(f"timed out after {timeout} s waiting for {what}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ProcStats:
    """CPU and memory of a process from /proc (all its threads)."""

    def __init__(self, pid):
        self.pid = pid

    def cpu(self):
        """(user, system) CPU seconds."""
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK

    def thread_cpu(self):
        """User + system CPU seconds by thread group: "main" (the thread that runs the event loop),
        "zmq_io" (libzmq's I/O thread) and "other" (libzmq's reaper, the relay's state writer...)."""
        groups = {"main": 0.0, "zmq_io": 0.0, "other": 0.0}
        for tid in os.listdir(f"/proc/{self.pid}/task"):
            try:
                with open(f"/proc/{self.pid}/task/{tid}/stat") as f:
                    text = f.read()
            except FileNotFoundError:
                continue
            comm = text[text.index("(") + 1:text.rindex(")")]
            fields = text.rsplit(")", 1)[1].split()
            seconds = (int(fields[11]) + int(fields[12])) / CLK_TCK
            group = "main" if int(tid) == self.pid else "zmq_io" if comm.startswith("ZMQbg/IO") else "other"
            groups[group] += seconds
        return groups

    def snapshot(self):
        return {"cpu": self.cpu(), "threads": self.thread_cpu()}

    def status(self):
        values = {}
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                key, _, rest = line.partition(":")
                values[key] = rest.strip()
        return values

    def memory_kb(self):
        """(VmRSS, VmHWM) in KiB."""
        s = self.status()
        return int(s["VmRSS"].split()[0]), int(s["VmHWM"].split()[0])

    def context_switches(self):
        """Voluntary + involuntary context switches of all threads: wakeups, roughly."""
        total = 0
        for tid in os.listdir(f"/proc/{self.pid}/task"):
            try:
                with open(f"/proc/{self.pid}/task/{tid}/status") as f:
                    for line in f:
                        if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                            total += int(line.split(":")[1])
            except FileNotFoundError:
                pass
        return total

    def threads(self):
        return len(os.listdir(f"/proc/{self.pid}/task"))


def cpu_per_event(before, after, events):
    """Microseconds of CPU per event (= CPU seconds per million events) between two snapshots."""
    n = max(events, 1)
    out = {"user": (after["cpu"][0] - before["cpu"][0]) / n * 1e6,
           "sys": (after["cpu"][1] - before["cpu"][1]) / n * 1e6}
    for group in after["threads"]:
        out[group] = (after["threads"][group] - before["threads"].get(group, 0.0)) / n * 1e6
    return out


class Sim:
    """The simulator; with tls, HTTPS and wss:// with the test certificate (tests/data/tls)."""

    def __init__(self, bins, workdir, name, *args, tls=False):
        self.port_file = os.path.join(workdir, f"{name}.port")
        self.log = open(os.path.join(workdir, f"{name}.log"), "w")
        if tls:
            args = (*args, "--tls-cert", os.path.join(TLS_DIR, "server.pem"), "--tls-key",
                    os.path.join(TLS_DIR, "server.key"))
        self.proc = subprocess.Popen(
            [bins["sim"], "--port-file", self.port_file, "--quiet", "--stamp", "--rate-tick-us", "1000",
             "--bot-token", SINK_BOT_TOKEN, "--history", "1000", "--history-bytes", str(64 << 20), *args],
            stdout=self.log, stderr=subprocess.STDOUT)
        self.port = int(wait_for(lambda: os.path.exists(self.port_file) and open(self.port_file).read().strip(),
                                 10, f"the port file of {name}"))
        self.stats = ProcStats(self.proc.pid)
        self.base = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/websocket/"
        self.ssl_context = ssl.create_default_context(cafile=TLS_CA) if tls else None

    def request(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        with urllib.request.urlopen(req, timeout=30, context=self.ssl_context) as response:
            return json.loads(response.read())

    def post(self, path, body):
        return self.request("POST", path, body)

    def connected_shards(self):
        return sum(1 for s in self.request("GET", "/_sim/state")["shards"] if s["connected"])

    def wait_connected(self, shards, timeout):
        wait_for(lambda: self.connected_shards() >= shards, timeout, f"{shards} connected shards", 0.2)

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class Relay:
    """`gateway_extra` lines go into [gateway]; `extra` (whole sections) goes at the end of the config;
    `sndhwm` None leaves publish.sndhwm at its default."""

    def __init__(self, bins, workdir, name, sim, endpoint, env=None, gateway_extra="", extra="", sndhwm=None):
        state_dir = os.path.join(workdir, f"{name}-state")
        self.config_path = os.path.join(workdir, f"{name}.toml")
        with open(self.config_path, "w") as f:
            f.write(f"""
[bot]
app_id = "{APP_ID}"
client_secret = "{SIM_SECRET}"
intents = ["GROUP_AND_C2C_EVENT"]
[gateway]
api_base = "{sim.base}"
token_url = "{sim.base}/app/getAppAccessToken"
{gateway_extra}
[publish]
endpoints = ["{endpoint}"]
{"" if sndhwm is None else f"sndhwm = {sndhwm}"}
[state]
directory = "{state_dir}"
[log]
level = "warn"
{extra}
""")
        self.log_path = os.path.join(workdir, f"{name}.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([bins["relay"], "--config", self.config_path], stdout=self.log,
                                     stderr=subprocess.STDOUT, env=env)
        self.stats = ProcStats(self.proc.pid)

    def check_alive(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f"the relay exited with {self.proc.returncode}; see {self.log_path}")

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class LineProcess:
    """A child that answers with JSON lines on stdout."""

    def __init__(self, argv, workdir, name, stdin=False):
        self.name = name
        self.err = open(os.path.join(workdir, f"{name}.err"), "w")
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=self.err, text=True, bufsize=1)

    def send(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def read_json(self, timeout):
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            raise RuntimeError(f"{self.name}: no answer within {timeout} s")
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.name} exited ({self.proc.poll()}) without an answer")
        return json.loads(line)

    def close(self):
        if self.proc.poll() is None:
            if self.proc.stdin:
                try:
                    self.send("quit")
                except BrokenPipeError:
                    pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.err.close()


def events_per_second(report):
    span = (report["last_ns"] - report["first_ns"]) / 1e9
    return (report["count"] - 1) / span if span > 0 and report["count"] > 1 else 0.0


# ---- the limit: simulator -> bench-lws-sink -------------------------------------------------------------

def sink_run(bins, workdir, sim, shards, count, trigger, skip=0, latency=False, timeout=120, framing="lws"):
    """Starts a sink on `shards` shards, waits until they are ready, calls trigger() and returns its report.

    framing "lws" is libwebsockets' WebSocket client (the limit); "relay" is a raw lws socket read by the
    relay's own frame reader (the floor of the relay's transport)."""
    argv = [bins["sink"], "--url", sim.ws_url, "--shards", str(shards),
            "--token", f"Bot {APP_ID}.{SINK_BOT_TOKEN}", "--count", str(count), "--skip", str(skip),
            "--timeout", "10", "--framing", framing]
    if latency:
        argv.append("--latency")
    sink = LineProcess(argv, workdir, "sink")
    try:
        ready = sink.read_json(60)
        if not ready.get("ready"):
            raise RuntimeError(f"sink: unexpected {ready}")
        trigger()
        report = sink.read_json(timeout)
        sink.proc.wait(10)
        return report
    finally:
        sink.close()


def sink_flood(bins, workdir, sim, shards, size, events, framing="lws"):
    per_shard = max(1, events // shards)
    total = per_shard * shards
    sim_before = {}

    def trigger():
        sim_before.update(sim.stats.snapshot())
        sim.post("/_sim/generate", {"count": per_shard, "rate": 0, "size": size})

    report = sink_run(bins, workdir, sim, shards, total, trigger, framing=framing)
    sim_cpu = cpu_per_event(sim_before, sim.stats.snapshot(), report["count"])
    return {"events": total, "received": report["count"], "eps": events_per_second(report),
            "mb_s": report["bytes"] / max((report["last_ns"] - report["first_ns"]) / 1e9, 1e-9) / 1e6,
            "sim_cpu_us": sim_cpu["user"] + sim_cpu["sys"],
            "sink_cpu_us": (report["user_s"] + report["sys_s"]) / max(report["count"], 1) * 1e6}


# ---- the relay: simulator -> relay -> bench-subscriber ----------------------------------------------------

TRANSPORT = {"name": "tcp"}  # the subscribers' transport, for every RelayRig (set by --transport)


class RelayRig:
    """A simulator, a relay on `shards` shards and a subscriber that is known to receive."""

    def __init__(self, bins, workdir, shards, name="relay", sim_args=(), tls=False, gateway_extra="", extra="",
                 sndhwm=None):
        self.workdir = workdir
        self.shards = shards
        self.sim = Sim(bins, workdir, f"sim-{name}", "--shards", str(shards), "--max-concurrency", str(shards),
                       "--remaining", "1000000", "--total", "1000000", *sim_args, tls=tls)
        # tcp:// on loopback by default (what a subscriber on another host gets); --transport ipc for a Unix socket.
        self.endpoint = (f"ipc://{workdir}/{name}.sock" if TRANSPORT["name"] == "ipc"
                         else f"tcp://127.0.0.1:{free_port()}")
        self.relay = None
        self.sub = None
        started = time.monotonic()
        env = dict(os.environ, SSL_CERT_FILE=TLS_CA) if tls else None
        self.relay = Relay(bins, workdir, name, self.sim, self.endpoint, env=env, gateway_extra=gateway_extra,
                           extra=extra, sndhwm=sndhwm)
        self.sim.wait_connected(shards, 120)
        self.connect_s = time.monotonic() - started
        self.relay.check_alive()

    def start_subscriber(self, bins):
        self.sub = LineProcess([bins["sub"], self.endpoint, "--topic", EVENT_TOPIC], self.workdir, "sub",
                               stdin=True)
        # PUB/SUB joins asynchronously: send probes through the relay until one arrives.
        for _ in range(100):
            self.sim.post("/_sim/send", {"shard": 0, "t": "PROBE", "d": {}})
            time.sleep(0.05)
            self.sub.send("seen")
            if self.sub.read_json(10)["seen"] > 0:
                return
        raise RuntimeError("the subscriber never received a probe through the relay")

    def flood(self, size, events):
        per_shard = max(1, events // self.shards)
        total = per_shard * self.shards
        stats = self.relay.stats
        self.sub.send(f"expect {total} 5")
        relay0, sim0 = stats.snapshot(), self.sim.stats.snapshot()
        self.sim.post("/_sim/generate", {"count": per_shard, "rate": 0, "size": size})
        report = self.sub.read_json(300)
        relay1, sim1 = stats.snapshot(), self.sim.stats.snapshot()
        self.relay.check_alive()
        rss, hwm = stats.memory_kb()
        received = report["count"]
        cpu = cpu_per_event(relay0, relay1, received)
        sim_cpu = cpu_per_event(sim0, sim1, received)
        return {"events": total, "received": received, "lost": total - received,
                "eps": events_per_second(report),
                "mb_s": report["bytes"] / max((report["last_ns"] - report["first_ns"]) / 1e9, 1e-9) / 1e6,
                "user_s_per_m": cpu["user"], "sys_s_per_m": cpu["sys"], "relay_cpu_us": cpu,
                "sim_cpu_us": sim_cpu["user"] + sim_cpu["sys"],
                "sub_cpu_us": (report["user_s"] + report["sys_s"]) / max(received, 1) * 1e6,
                "rss_kb": rss, "hwm_kb": hwm}

    def paced(self, rate, size, warmup_s, seconds):
        skip = int(rate * warmup_s)
        count = int(rate * seconds)
        stats = self.relay.stats
        self.sub.send(f"expect {count} 5 {skip}")
        relay0 = stats.snapshot()
        self.sim.post("/_sim/config", {"rate": rate, "event_size": size})
        report = self.sub.read_json(warmup_s + seconds + 60)
        self.sim.post("/_sim/config", {"rate": 0})
        relay1 = stats.snapshot()
        self.relay.check_alive()
        events = skip + report["count"]
        cpu = cpu_per_event(relay0, relay1, events)
        return {"rate": rate, "achieved": events_per_second(report), "received": report["count"],
                "lost": count - report["count"], "lat_n": report["lat_n"],
                "p50_us": report["p50_us"], "p99_us": report["p99_us"], "p999_us": report["p999_us"],
                "max_us": report["max_us"], "user_s_per_m": cpu["user"], "sys_s_per_m": cpu["sys"],
                "relay_cpu_us": cpu,
                "in_us": [report["in_p50_us"], report["in_p99_us"], report["in_p999_us"]],
                "out_us": [report["out_p50_us"], report["out_p99_us"], report["out_p999_us"]]}

    def close(self):
        for part in (self.sub, self.relay, self.sim):
            if part is not None:
                part.close()


def sink_paced(bins, workdir, sim, shards, rate, size, warmup_s, seconds):
    skip = int(rate * warmup_s)
    count = int(rate * seconds)

    def start():
        sim.post("/_sim/config", {"rate": rate, "event_size": size})

    try:
        report = sink_run(bins, workdir, sim, shards, count, start, skip=skip, latency=True,
                          timeout=warmup_s + seconds + 60)
    finally:
        sim.post("/_sim/config", {"rate": 0})
    return {"rate": rate, "achieved": events_per_second(report), "received": report["count"],
            "lat_n": report["lat_n"], "p50_us": report["p50_us"], "p99_us": report["p99_us"],
            "p999_us": report["p999_us"], "max_us": report["max_us"]}


def idle_run(bins, workdir, shards, settle_s, window_s, heartbeat_ms, tls=False):
    rig = RelayRig(bins, workdir, shards, name=f"idle{shards}{'tls' if tls else ''}",
                   sim_args=("--heartbeat-interval", str(heartbeat_ms)), tls=tls)
    try:
        time.sleep(settle_s)
        stats = rig.relay.stats
        cpu0, ctx0, t0 = stats.cpu(), stats.context_switches(), time.monotonic()
        time.sleep(window_s)
        cpu1, ctx1, t1 = stats.cpu(), stats.context_switches(), time.monotonic()
        rig.relay.check_alive()
        rss, hwm = stats.memory_kb()
        connected = rig.sim.connected_shards()
        result = {"shards": shards, "connected": connected, "connect_s": rig.connect_s, "rss_kb": rss,
                  "hwm_kb": hwm, "threads": stats.threads(),
                  "cpu_pct": 100 * ((cpu1[0] - cpu0[0]) + (cpu1[1] - cpu0[1])) / (t1 - t0),
                  "wakeups_per_s": (ctx1 - ctx0) / (t1 - t0), "window_s": t1 - t0}
        # A shard that has carried events keeps what they touched (receive buffers): one event of each size
        # per shard, then the RSS again. Nobody subscribes, so ZeroMQ queues nothing.
        for size in (300, 65536):
            rig.sim.post("/_sim/generate", {"count": 1, "rate": 0, "size": size})
            time.sleep(1.0 + shards / 1000)
            rig.relay.check_alive()
            result[f"rss_kb_after_{size}"] = stats.memory_kb()[0]
        return result
    finally:
        rig.close()


# ---- the run ------------------------------------------------------------------------------------------

def machine():
    model = ""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    return {"nproc": os.cpu_count(), "cpu": model, "kernel": platform.release(),
            "mem_gib": round(mem_kb / 2**20, 1), "loadavg_start": os.getloadavg()[0]}


def throughput(bins, workdir, p, results):
    rows = []
    for shards in p["shards"]:
        sink_sim = Sim(bins, workdir, f"sim-sink{shards}", "--shards", str(shards), "--max-concurrency",
                       str(shards))
        rig = RelayRig(bins, workdir, shards, name=f"relay{shards}")
        try:
            rig.start_subscriber(bins)
            for size in p["sizes"]:
                events = p["flood_events"][size]
                best_relay, best_sink, best_floor = None, None, None
                for _ in range(p["repeats"]):
                    s = sink_flood(bins, workdir, sink_sim, shards, size, events)
                    f = sink_flood(bins, workdir, sink_sim, shards, size, events, framing="relay")
                    r = rig.flood(size, events)
                    if best_sink is None or s["eps"] > best_sink["eps"]:
                        best_sink = s
                    if best_floor is None or f["eps"] > best_floor["eps"]:
                        best_floor = f
                    if best_relay is None or r["eps"] > best_relay["eps"]:
                        best_relay = r
                row = {"shards": shards, "size": size, "relay": best_relay, "limit": best_sink, "floor": best_floor,
                       "fraction": best_relay["eps"] / best_sink["eps"] if best_sink["eps"] else 0.0,
                       "floor_fraction": best_relay["eps"] / best_floor["eps"] if best_floor["eps"] else 0.0}
                log(f"flood {shards} shard(s) {size} B: relay {best_relay['eps']:,.0f}/s "
                    f"(lost {best_relay['lost']}), limit {best_sink['eps']:,.0f}/s, {row['fraction']:.0%}; "
                    f"floor {best_floor['eps']:,.0f}/s, {row['floor_fraction']:.0%}")
                rows.append(row)
        finally:
            rig.close()
            sink_sim.close()
    results["throughput"] = rows


def latency(bins, workdir, p, results):
    shards, size = p["latency_shards"], p["latency_size"]
    rows = []
    sink_sim = Sim(bins, workdir, "sim-sinklat", "--shards", str(shards), "--max-concurrency", str(shards))
    rig = RelayRig(bins, workdir, shards, name="relaylat")
    try:
        rig.start_subscriber(bins)
        for rate in p["rates"]:
            base = sink_paced(bins, workdir, sink_sim, shards, rate, size, p["latency_warmup_s"],
                              p["latency_seconds"])
            r = rig.paced(rate, size, p["latency_warmup_s"], p["latency_seconds"])
            log(f"paced {rate}/s: relay p50 {r['p50_us']} us p99 {r['p99_us']} us p99.9 {r['p999_us']} us; "
                f"sink p50 {base['p50_us']} us p99 {base['p99_us']} us")
            rows.append({"shards": shards, "size": size, "relay": r, "baseline": base})
        results["latency_rss_kb"] = rig.relay.stats.memory_kb()
    finally:
        rig.close()
        sink_sim.close()
    results["latency"] = rows


def idle(bins, workdir, p, results):
    """Idle shards over ws:// (results["idle"]) and over wss:// (results["idle_tls"]), as on the platform."""
    for key, tls in (("idle", False), ("idle_tls", True)):
        results[key] = idle_measure(bins, workdir, p, tls)


def idle_measure(bins, workdir, p, tls):
    scheme = "wss" if tls else "ws"
    one = idle_run(bins, workdir, 1, p["idle_settle_s"], p["idle_window_s"], p["idle_heartbeat_ms"], tls)
    log(f"idle 1 shard ({scheme}): RSS {one['rss_kb']} KiB, CPU {one['cpu_pct']:.2f}%")
    many = idle_run(bins, workdir, p["idle_shards"], p["idle_settle_s"], p["idle_window_s"],
                    p["idle_heartbeat_ms"], tls)
    per_shard = {}
    for key in ("rss_kb", "rss_kb_after_300", "rss_kb_after_65536"):
        per_shard[key] = (many[key] - one[key]) / max(many["shards"] - 1, 1)
    log(f"idle {many['shards']} shards ({scheme}): {many['connected']} connected in {many['connect_s']:.1f} s, "
        f"RSS {many['rss_kb']} KiB ({per_shard['rss_kb']:.1f} KiB/shard; "
        f"{per_shard['rss_kb_after_300']:.1f} after a 300 B event each, "
        f"{per_shard['rss_kb_after_65536']:.1f} after a 64 KiB event each), CPU {many['cpu_pct']:.2f}%")
    return {"one": one, "many": many, "rss_kb_per_shard": per_shard["rss_kb"],
            "rss_kb_per_shard_after": {"300": per_shard["rss_kb_after_300"],
                                       "65536": per_shard["rss_kb_after_65536"]}}


def perf_profile(bins, workdir, p, results, path, shards, seconds=4.0):
    """perf record on the relay for `seconds` in the middle of an extra 300-byte flood (not in the tables).

    The relay is built without frame pointers, so call graphs come from DWARF unwinding."""
    rig = RelayRig(bins, workdir, shards, name="relayperf")
    try:
        rig.start_subscriber(bins)
        warm = rig.flood(300, p["flood_events"][300] // 4)
        events = int(warm["eps"] * (seconds + 4))  # about 2 s on either side of the recording
        per_shard = max(1, events // shards)
        rig.sub.send(f"expect {per_shard * shards} 5")
        rig.sim.post("/_sim/generate", {"count": per_shard, "rate": 0, "size": 300})
        time.sleep(1.5)
        subprocess.run(["perf", "record", "-F", "999", "--call-graph", "dwarf,16384", "-o", path,
                        "-p", str(rig.relay.proc.pid), "--", "sleep", str(seconds)],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        report = rig.sub.read_json(300)
        results["perf"] = {"file": path, "shards": shards, "events": report["count"],
                           "eps_while_recording": events_per_second(report)}
        log(f"perf: {path} ({events_per_second(report):,.0f} events/s during the flood it sampled)")
    finally:
        rig.close()


def fmt_kib(kb):
    return f"{kb / 1024:.1f}"


def markdown(results):
    p, m = results["params"], results["machine"]
    out = []
    out.append(f"Machine: {m['nproc']} × {m['cpu']}, {m['mem_gib']} GiB, Linux {m['kernel']}; "
               f"load average {m['loadavg_start']:.2f} at the start, {m.get('loadavg_end', 0):.2f} at the end. "
               f"Mode: {'quick' if results['quick'] else 'full'}, best of {p['repeats']} per flood.")
    if "throughput" in results:
        out.append("")
        out.append("Flood throughput (events/s received; the limit is the same flood into bench-lws-sink with "
                   "libwebsockets' WebSocket client, the floor into bench-lws-sink --framing relay):")
        out.append("")
        out.append("| shards | event | relay events/s | limit events/s | relay / limit | floor events/s "
                   "| relay / floor | relay MB/s | relay CPU s per M events (user + sys) | relay peak RSS MiB "
                   "| lost |")
        out.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for row in results["throughput"]:
            r, s, f = row["relay"], row["limit"], row["floor"]
            size = f"{row['size'] // 1024} KiB" if row["size"] >= 1024 else f"{row['size']} B"
            out.append(f"| {row['shards']} | {size} | {r['eps']:,.0f} | {s['eps']:,.0f} | {row['fraction']:.0%} "
                       f"| {f['eps']:,.0f} | {row['floor_fraction']:.0%} "
                       f"| {r['mb_s']:.0f} | {r['user_s_per_m']:.2f} + {r['sys_s_per_m']:.2f} "
                       f"| {fmt_kib(r['hwm_kb'])} | {r['lost']} |")
        out.append("")
        out.append("CPU per event by process in the same floods, in µs (= CPU seconds per million events; the "
                   "relay split by thread):")
        out.append("")
        out.append("| shards | event | sim | relay: event loop | relay: ZeroMQ I/O | relay: other | subscriber "
                   "| limit run: sim | limit run: sink | floor run: sim | floor run: sink |")
        out.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for row in results["throughput"]:
            r, s, f = row["relay"], row["limit"], row["floor"]
            c = r["relay_cpu_us"]
            size = f"{row['size'] // 1024} KiB" if row["size"] >= 1024 else f"{row['size']} B"
            out.append(f"| {row['shards']} | {size} | {r['sim_cpu_us']:.2f} | {c['main']:.2f} "
                       f"| {c['zmq_io']:.2f} | {c['other']:.2f} | {r['sub_cpu_us']:.2f} "
                       f"| {s['sim_cpu_us']:.2f} | {s['sink_cpu_us']:.2f} "
                       f"| {f['sim_cpu_us']:.2f} | {f['sink_cpu_us']:.2f} |")
    if "latency" in results:
        out.append("")
        out.append(f"Added latency, simulator write to subscriber receive ({p['latency_shards']} shards, "
                   f"{p['latency_size']} B events, {p['latency_seconds']:g} s after {p['latency_warmup_s']:g} s "
                   f"of warm-up; the baseline is simulator write to bench-lws-sink receive):")
        out.append("")
        out.append("| rate /s | samples | relay p50 µs | p99 µs | p99.9 µs | max µs "
                   "| baseline p50 / p99 / p99.9 µs | relay CPU s per M events (user + sys) "
                   "| of which event loop / ZeroMQ I/O / other |")
        out.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        split = []
        for row in results["latency"]:
            r, b = row["relay"], row["baseline"]
            c = r["relay_cpu_us"]
            out.append(f"| {r['rate']:,} | {r['lat_n']:,} | {r['p50_us']:.0f} | {r['p99_us']:.0f} "
                       f"| {r['p999_us']:.0f} | {r['max_us']:.0f} "
                       f"| {b['p50_us']:.0f} / {b['p99_us']:.0f} / {b['p999_us']:.0f} "
                       f"| {r['user_s_per_m']:.2f} + {r['sys_s_per_m']:.2f} "
                       f"| {c['main']:.1f} / {c['zmq_io']:.1f} / {c['other']:.1f} |")
            split.append(f"| {r['rate']:,} | {' / '.join(f'{v:.0f}' for v in r['in_us'])} "
                         f"| {' / '.join(f'{v:.0f}' for v in r['out_us'])} |")
        out.append("")
        out.append("The same latency split at the relay's publish call (metadata received_at_us, mapped from "
                   "the wall clock to CLOCK_MONOTONIC):")
        out.append("")
        out.append("| rate /s | simulator write -> relay read, p50 / p99 / p99.9 µs "
                   "| relay read -> subscriber receive, p50 / p99 / p99.9 µs |")
        out.append("|---:|---:|---:|")
        out.extend(split)
    for key, scheme in (("idle", "ws://"), ("idle_tls", "wss://")):
        if key not in results:
            continue
        i = results[key]
        out.append("")
        beats = p["idle_window_s"] * 1000 / p["idle_heartbeat_ms"]
        out.append(f"Idle over {scheme} (heartbeat_interval {p['idle_heartbeat_ms']} ms, so every shard heartbeats "
                   f"{beats:g} times in the {p['idle_window_s']:g} s window that starts {p['idle_settle_s']:g} s "
                   f"after all shards are READY; QQ's is 41 250 ms):")
        out.append("")
        out.append("| shards | connected | all READY after s | relay VmRSS MiB | VmHWM MiB | threads "
                   "| CPU % | wakeups/s |")
        out.append("|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in (i["one"], i["many"]):
            out.append(f"| {r['shards']} | {r['connected']} | {r['connect_s']:.1f} | {fmt_kib(r['rss_kb'])} "
                       f"| {fmt_kib(r['hwm_kb'])} | {r['threads']} | {r['cpu_pct']:.2f} "
                       f"| {r['wakeups_per_s']:.1f} |")
        n = i["many"]["shards"]
        after = i["rss_kb_per_shard_after"]
        out.append("")
        out.append(f"RSS per idle shard over {scheme} (({n}-shard VmRSS - 1-shard VmRSS) / {n - 1}): "
                   f"{i['rss_kb_per_shard']:.1f} KiB freshly connected; {after['300']:.1f} KiB once every shard "
                   f"has carried one 300 B event; {after['65536']:.1f} KiB once every shard has also carried one "
                   f"64 KiB event (VmRSS {fmt_kib(i['one']['rss_kb_after_65536'])} / "
                   f"{fmt_kib(i['many']['rss_kb_after_65536'])} MiB).")
    out.append("")
    out.append("Targets:")
    out.append("")
    for name, ok, detail in targets(results):
        out.append(f"- {'met' if ok else '**missed**'}: {name} ({detail})")
    return "\n".join(out)


def targets(results):
    p = results["params"]
    checks = []
    for row in results.get("throughput", []):
        if row["size"] == 300:
            checks.append((f"relay >= 70% of the limit, 300 B, {row['shards']} shard(s)", row["fraction"] >= 0.7,
                           f"{row['fraction']:.0%}"))
    for row in results.get("latency", []):
        if row["relay"]["rate"] == 10_000:
            checks.append(("p99 added latency < 1 ms at 10 000 events/s", row["relay"]["p99_us"] < 1000,
                           f"{row['relay']['p99_us']:.0f} µs"))
    for key, scheme in (("idle", "ws://"), ("idle_tls", "wss://")):
        if key not in results:
            continue
        i = results[key]
        worst = max(i["rss_kb_per_shard"], *i["rss_kb_per_shard_after"].values())
        checks.append((f"<= 64 KiB RSS per idle shard over {scheme}", worst <= 64,
                       f"{i['rss_kb_per_shard']:.1f} KiB freshly connected, "
                       f"{i['rss_kb_per_shard_after']['65536']:.1f} KiB after a 64 KiB event on every shard"))
        checks.append((f"{i['many']['shards']} shards in one process over {scheme}",
                       i["many"]["connected"] == i["many"]["shards"],
                       f"{i['many']['connected']} connected"))
        cpu = max(i["one"]["cpu_pct"], i["many"]["cpu_pct"])
        checks.append((f"idle CPU near zero over {scheme} (< 1% of a core, heartbeats every "
                       f"{p['idle_heartbeat_ms']} ms)", cpu < 1.0,
                       f"{i['one']['cpu_pct']:.2f}% / {i['many']['cpu_pct']:.2f}%"))
    return checks


def binaries(bin_dir):
    """The paths of the benchmark's programs in bin_dir; exits if one is missing."""
    bins = {"relay": "qq-gateway-relay", "sim": "qq-gateway-sim", "sink": "bench-lws-sink",
            "sub": "bench-subscriber"}
    bins = {k: os.path.abspath(os.path.join(bin_dir, v)) for k, v in bins.items()}
    for path in bins.values():
        if not os.access(path, os.X_OK):
            sys.exit(f"missing {path}: build the 'bench' target first")
    return bins


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin-dir", default=os.path.join(here, "..", "..", "build-bench", "bin"),
                        help="directory with qq-gateway-relay, qq-gateway-sim, bench-lws-sink, bench-subscriber")
    parser.add_argument("--quick", action="store_true", help="smaller floods and shorter windows (1-2 minutes)")
    parser.add_argument("--only", choices=["throughput", "latency", "idle"], action="append",
                        help="run only these parts (repeatable)")
    parser.add_argument("--sizes", type=int, nargs="+", choices=FULL["sizes"],
                        help="throughput: only these event sizes (bytes)")
    parser.add_argument("--shards", type=int, nargs="+", choices=FULL["shards"],
                        help="throughput: only these shard counts")
    parser.add_argument("--json", help="write every number here")
    parser.add_argument("--perf", metavar="FILE",
                        help="also record the relay with perf (DWARF call graphs) for 4 s during an extra 300 B "
                             "flood; read it with perf report -i FILE --no-children --sort dso,sym")
    parser.add_argument("--perf-shards", type=int, default=1, help="shards for the --perf flood (default 1)")
    parser.add_argument("--keep", action="store_true", help="keep the working directory with the logs")
    parser.add_argument("--transport", choices=["tcp", "ipc"], default="tcp",
                        help="the subscriber's transport: tcp:// on loopback (default) or an ipc:// Unix socket")
    args = parser.parse_args()
    TRANSPORT["name"] = args.transport

    bins = binaries(args.bin_dir)
    p = dict(QUICK if args.quick else FULL)
    if args.sizes:
        p["sizes"] = args.sizes
    if args.shards:
        p["shards"] = args.shards
    parts = args.only or ["throughput", "latency", "idle"]
    workdir = tempfile.mkdtemp(prefix="qq-relay-bench-")
    results = {"quick": args.quick, "params": p, "machine": machine(), "bins": bins, "transport": args.transport}
    started = time.monotonic()
    failed = False
    try:
        if "throughput" in parts:
            throughput(bins, workdir, p, results)
        if "latency" in parts:
            latency(bins, workdir, p, results)
        if "idle" in parts:
            idle(bins, workdir, p, results)
        if args.perf:
            perf_profile(bins, workdir, p, results, os.path.abspath(args.perf), args.perf_shards)
    except Exception:
        failed = True
        raise
    finally:
        results["machine"]["loadavg_end"] = os.getloadavg()[0]
        results["seconds"] = time.monotonic() - started
        if args.json:
            with open(args.json, "w") as f:
                json.dump(results, f, indent=1)
        if failed or args.keep:
            log(f"logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(markdown(results))
    log(f"benchmark took {results['seconds']:.0f} s")


if __name__ == "__main__":
    main()
