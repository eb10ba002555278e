#!/usr/bin/python3
"""A soak run (docs/soak.md): the simulator streams numbered events over S shards, and webhooks, into the relay
(journal, replay endpoint, webhook, metrics, [api] with its served gateway); subscribers in Python, Node.js and
C++ (the clients in clients/), a slow one, and an SDK-style gateway bot write down what they receive; faults are
injected on a schedule for the whole run; the relay's resources are sampled. At the end it checks that every
event reached every subscriber exactly once and in order per shard, and that RSS, descriptors and disk stayed
flat after warm-up. Exit 0 only if all of that holds; the last line printed is the summary.

Usage: /usr/bin/python3 tests/soak/run_soak.py --minutes N [--rate R] [--shards S] [--out DIR] [--seed X]
Environment: QQ_RELAY_BIN, QQ_SIM_BIN, QQ_CPP_CLIENT_BIN (defaults under build/bin).
"""
import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(SOURCE, "tests", "integration"))
os.environ.setdefault("QQ_RELAY_BIN", os.path.join(SOURCE, "build", "bin", "qq-gateway-relay"))
os.environ.setdefault("QQ_SIM_BIN", os.path.join(SOURCE, "build", "bin", "qq-gateway-sim"))

from harness import Relay, Sim, wait_for  # noqa: E402
from webhook_client import accepts_connections, free_port  # noqa: E402

import soak_check  # noqa: E402
import soak_samples  # noqa: E402

CPP_CLIENT = os.environ.get("QQ_CPP_CLIENT_BIN", os.path.join(SOURCE, "build", "bin", "relay-subscriber-cpp"))
PYTHON = "/usr/bin/python3"
API_KEY = "soak" * 5 + "-soak-bot-key-0123456789"

# Faults per hour (each at least once in any run), spread evenly over the run. Per-shard 4009 and op 7 come on
# top: each shard gets each of them every PER_SHARD_PERIOD_S.
PER_HOUR = {
    "drop": 12,
    "zombie": 6,
    "expired_token": 6,
    "token_outage": 4,
    "op9_invalid": 4,
    "op9_resumable": 4,
    "sighup": 6,
    "subscriber_kill": 2,
    "slow_subscriber": 2,
}
PER_SHARD_PERIOD_S = 240


def log(text):
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def parse_args():
    parser = argparse.ArgumentParser(description="soak run: events, faults and resource samples (docs/soak.md)")
    parser.add_argument("--minutes", type=float, required=True)
    parser.add_argument("--rate", type=int, default=1000, help="events per second over all shards")
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--out", help="directory for the logs, journals, CSV and plot (default: a new temp dir)")
    parser.add_argument("--seed", type=int, default=1, help="which shard each fault hits")
    parser.add_argument("--sample-seconds", type=float, default=10)
    parser.add_argument("--webhooks-per-minute", type=int, default=60)
    parser.add_argument("--retain-messages", type=int, default=100000)
    parser.add_argument("--journal-mib", type=int, default=64)
    parser.add_argument("--warmup-fraction", type=float, default=0.2)
    parser.add_argument("--keep-journals", action="store_true",
                        help="keep the subscribers' journals and the relay's journal after a run that passed")
    # Bounds on the least-squares slopes after warm-up, per 10 minutes (docs/soak.md says why these values).
    parser.add_argument("--rss-bound-mib", type=float, default=8.0)
    parser.add_argument("--fd-bound", type=float, default=10.0)
    parser.add_argument("--disk-bound-mib", type=float, default=8.0)
    return parser.parse_args()


def schedule(args, duration):
    """[(t, kind, shard or None)] for the whole run, sorted."""
    rng = random.Random(args.seed)
    start, end = 20.0, duration - 25.0
    span = end - start
    plan = []
    kinds = sorted(PER_HOUR)
    for index, kind in enumerate(kinds):
        count = max(1, round(PER_HOUR[kind] * duration / 3600))
        phase = (index + 0.5) / len(kinds)
        for i in range(count):
            plan.append((start + (i + phase) * span / count, kind, rng.randrange(args.shards)))
    per_shard = max(1, round(duration / PER_SHARD_PERIOD_S))
    slots = per_shard * args.shards * 2
    order = [(shard, kind) for shard in range(args.shards) for kind in ("close_4009", "op7")] * per_shard
    rng.shuffle(order)
    for i, (shard, kind) in enumerate(order):
        plan.append((start + (i + 0.5) * span / slots, kind, shard))
    plan.append((0.25 * duration, "relay_restart", None))
    kills = max(1, int(duration // 3600))
    for i in range(kills):
        plan.append(((i + 0.45) * duration / kills, "kill9", None))
    return sorted(plan)


def relay_config(sim, ports, state_dir, clients_file, args, level):
    return f"""
[bot]
app_id = "102000000"
client_secret = "sim-secret"
intents = ["GUILDS", "PUBLIC_GUILD_MESSAGES", "GROUP_AND_C2C_EVENT"]
[gateway]
api_base = "{sim.base}"
token_url = "{sim.base}/app/getAppAccessToken"
identify_window_ms = 200
[publish]
endpoints = ["tcp://127.0.0.1:{ports['pub']}"]
replay_endpoint = "tcp://127.0.0.1:{ports['replay']}"
retain_messages = {args.retain_messages}
journal = true
journal_max_bytes = {args.journal_mib * 1024 * 1024}
[webhook]
enabled = true
listen = "127.0.0.1:{ports['webhook']}"
[api]
enabled = true
listen = "127.0.0.1:{ports['api']}"
clients_file = "{clients_file}"
[metrics]
listen = "127.0.0.1:{ports['metrics']}"
[state]
directory = "{state_dir}"
[log]
level = "{level}"
"""


class Soak:
    def __init__(self, args, out):
        self.args = args
        self.out = out
        self.duration = args.minutes * 60
        self.ports = {name: free_port() for name in ("pub", "replay", "webhook", "api", "metrics")}
        self.state_dir = os.path.join(out, "state")
        self.clients_file = os.path.join(out, "api-clients")
        with open(self.clients_file, "w") as f:
            f.write(f"soak-bot {API_KEY}\n")
        os.chmod(self.clients_file, 0o600)
        self.relay = None
        self.relay_starts = 0
        self.relay_exits = []  # (how it was stopped, exit status)
        self.level = "info"
        self.subscribers = {}  # name -> Popen
        self.sub_logs = []
        self.op9_windows = {}  # shard -> [(low, high)]
        self.op9_watch = []  # (shard, low, old session id)
        self.events = []  # (t, what) of relay restarts, for the plot
        self.fault_log = []
        self.followups = []  # (t, callable, description)
        self.t0 = None
        self.webhook_url = f"http://127.0.0.1:{self.ports['webhook']}/qq/webhook"

    # ---- processes -------------------------------------------------------------------------------------------
    def start_relay(self):
        self.relay_starts += 1
        config = relay_config(self.sim, self.ports, self.state_dir, self.clients_file, self.args, self.level)
        self.relay = Relay(self.out, config, name=f"relay-{self.relay_starts}")
        wait_for(lambda: accepts_connections(self.ports["metrics"]), 20, "the relay's metrics listener")

    def write_config(self):
        with open(self.relay.config_path, "w") as f:
            f.write(relay_config(self.sim, self.ports, self.state_dir, self.clients_file, self.args, self.level))

    def all_shards_connected(self):
        shards = self.sim.get("/_sim/state")["shards"]
        return len(shards) == self.args.shards and all(s["connected"] for s in shards)

    def start_subscriber(self, name):
        pub = f"tcp://127.0.0.1:{self.ports['pub']}"
        replay = f"tcp://127.0.0.1:{self.ports['replay']}"
        journal = os.path.join(self.out, f"sub-{name}.jsonl")
        relay_arg = ["--relay", f"{pub},{replay}", "--journal", journal]
        commands = {
            "python": [PYTHON, os.path.join(SOURCE, "clients", "python", "relay_subscriber.py"), *relay_arg],
            "node": ["node", os.path.join(SOURCE, "clients", "node", "relay_subscriber.mjs"), *relay_arg],
            "cpp": [CPP_CLIENT, *relay_arg],
            "slow": [PYTHON, os.path.join(HERE, "slow_subscriber.py"), pub, replay, journal, "0.002"],
            "gateway": [PYTHON, os.path.join(HERE, "gateway_subscriber.py"),
                        f"ws://127.0.0.1:{self.ports['api']}/websocket", f"Bot 102000000.{API_KEY}", journal],
        }
        stderr = open(os.path.join(self.out, f"sub-{name}.log"), "a")
        self.sub_logs.append(stderr)
        self.subscribers[name] = subprocess.Popen(commands[name], stdout=stderr, stderr=subprocess.STDOUT)

    def journal_has_probe(self, name, marker):
        """Whether the end of the subscriber's journal holds the probe event `marker`."""
        path = os.path.join(self.out, f"sub-{name}.jsonl")
        if not os.path.exists(path):
            return False
        with open(path, "rb") as f:
            f.seek(max(0, os.path.getsize(path) - 256 * 1024))
            return marker.encode() in f.read()

    def probe_all(self, timeout):
        """Sends one probe event and waits until every subscriber has written it. The clients handle messages in
        relay_seq order with gaps filled first (the gateway bot in its session's order), so a subscriber that has
        the probe has everything the relay published before it."""
        marker = f"probe-{time.monotonic_ns()}"
        self.sim.post("/_sim/send", {"shard": 0, "t": "PROBE", "d": {"content": marker}})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in self.subscribers.items():
                if proc.poll() is not None:
                    with open(os.path.join(self.out, f"sub-{name}.log"), errors="replace") as f:
                        raise RuntimeError(f"the {name} subscriber exited with {proc.returncode}: {f.read()[-800:]}")
            if all(self.journal_has_probe(name, marker) for name in self.subscribers):
                return True
            time.sleep(0.1)
        return False

    def sync_subscribers(self):
        """Probe events until every subscriber has written one: then the stream can start without any of them
        missing its first numbers."""
        wait_for(lambda: self.probe_all(1), 60, "every subscriber's first probe event")

    # ---- faults ----------------------------------------------------------------------------------------------
    def fault(self, body):
        try:
            return self.sim.post("/_sim/fault", body)
        except Exception as error:  # noqa: BLE001 - a shard without a session (relay down) is not an error here
            return {"error": repr(error)}

    def shard_state(self, shard):
        for s in self.sim.get("/_sim/state")["shards"]:
            if s["shard"] == shard:
                return s
        return None

    def inject(self, kind, shard):
        now = self.elapsed()
        if kind == "close_4009":
            self.fault({"shard": shard, "kind": "close", "code": 4009, "reason": "Session timed out"})
        elif kind == "op7":
            self.fault({"shard": shard, "kind": "reconnect"})
        elif kind == "drop":
            self.fault({"shard": shard, "kind": "drop"})
        elif kind == "zombie":
            self.fault({"shard": shard, "kind": "stop_acks"})
        elif kind == "expired_token":
            # Every token dies; a resume on one shard then meets 4004 and the relay must fetch a new one.
            self.fault({"kind": "expire_token"})
            self.later(1, lambda: self.fault({"shard": shard, "kind": "close", "code": 4009}), "4009 after expiry")
        elif kind == "token_outage":
            self.fault({"kind": "token_outage", "count": 3, "status": 503})
            self.fault({"kind": "expire_token"})
            self.later(1, lambda: self.fault({"shard": shard, "kind": "close", "code": 4009}), "4009 in outage")
        elif kind == "op9_invalid":
            before = self.shard_state(shard)
            if before and before["connected"]:
                self.fault({"shard": shard, "kind": "invalid_session", "d": False})
                self.op9_watch.append((shard, before["generated"], before["session_id"]))
        elif kind == "op9_resumable":
            self.fault({"shard": shard, "kind": "invalid_session", "d": True})
        elif kind == "sighup":
            self.level = "warn" if self.level == "info" else "info"
            self.write_config()
            self.relay.proc.send_signal(signal.SIGHUP)
        elif kind == "subscriber_kill":
            self.subscribers["node"].kill()
            self.subscribers["node"].wait()
            self.later(5, lambda: self.start_subscriber("node"), "node subscriber restarted")
        elif kind == "slow_subscriber":
            window = min(60.0, max(20.0, self.duration / 15))
            self.subscribers["slow"].send_signal(signal.SIGUSR1)
            self.later(window, lambda: self.subscribers["slow"].send_signal(signal.SIGUSR2), "slow subscriber off")
        elif kind == "relay_restart":
            self.events.append((now, "restart"))
            self.relay_exits.append(("SIGTERM", self.relay.stop(30)))
            self.start_relay()
        elif kind == "kill9":
            self.events.append((now, "kill -9"))
            self.relay.proc.kill()
            self.relay_exits.append(("SIGKILL", self.relay.proc.wait()))
            self.relay.log.close()
            self.later(2, self.start_relay, "relay started after kill -9")
        self.fault_log.append((round(now, 1), kind, shard))
        log(f"fault {kind}" + (f" shard {shard}" if shard is not None and kind not in ("sighup", "relay_restart",
                                                                                      "kill9") else ""))

    def later(self, delay, action, description):
        self.followups.append((self.elapsed() + delay, action, description))

    def watch_op9(self):
        """An op 9 (d false) window ends when the shard has a new session: the numbers generated in between
        went to the invalidated session, which the relay was right to leave."""
        if not self.op9_watch:
            return
        shards = {s["shard"]: s for s in self.sim.get("/_sim/state")["shards"]}
        for watch in list(self.op9_watch):
            shard, low, old = watch
            now = shards.get(shard)
            if now and now["session_id"] != old:
                self.op9_windows.setdefault(shard, []).append((low, now["generated"]))
                self.op9_watch.remove(watch)

    def elapsed(self):
        return time.monotonic() - self.t0

    # ---- the run ---------------------------------------------------------------------------------------------
    def run(self):
        args = self.args
        self.sim = Sim(self.out, "--shards", str(args.shards), "--max-concurrency", str(args.shards),
                       "--heartbeat-interval", "5000", "--token-ttl", "600", "--history", "20000")
        self.start_relay()
        wait_for(self.all_shards_connected, 60, "every shard READY")
        for name in ("python", "node", "cpp", "slow", "gateway"):
            self.start_subscriber(name)
        self.sync_subscribers()
        plan = schedule(args, self.duration)
        with open(os.path.join(self.out, "schedule.json"), "w") as f:
            json.dump(plan, f)
        sampler = soak_samples.Sampler(os.path.join(self.out, "samples.csv"), self.ports["metrics"],
                                       os.path.join(self.state_dir, "journal"))
        self.t0 = time.monotonic()
        self.start_stream()
        log(f"streaming {args.rate} events/s over {args.shards} shards for {args.minutes} min; "
            f"{len(plan)} faults scheduled; out {self.out}")
        next_sample = 0.0
        next_webhook = 1.0
        next_disk = 0.0
        while self.elapsed() < self.duration:
            now = self.elapsed()
            while plan and plan[0][0] <= now:
                _, kind, shard = plan.pop(0)
                self.inject(kind, shard)
            for item in sorted(self.followups, key=lambda x: x[0]):
                if item[0] <= now:
                    self.followups.remove(item)
                    item[1]()
                    log(item[2])
            if now >= next_webhook:
                self.post_webhooks()
                next_webhook += 5
            if now >= next_disk:
                sampler.read_disk(now)
                next_disk += 1
            if now >= next_sample:
                row = sampler.sample(now, self.relay.proc.pid if self.relay.proc.poll() is None else None,
                                     self.sim.proc.pid)
                if row:
                    log(f"t={now:.0f}s rss={row['rss_kib'] / 1024:.1f} MiB fds={row['fds']} "
                        f"threads={row['threads']} cpu={row['cpu_s']:.1f}s journal={row['journal_bytes'] >> 20} MiB "
                        f"relay_seq={row['relay_seq']} healthz={row['healthz_ms']} ms lag={row['loop_lag_s']} s")
                next_sample += args.sample_seconds
            self.watch_op9()
            time.sleep(0.2)
        for item in sorted(self.followups, key=lambda x: x[0]):  # slow off, restarts: before the drain
            item[1]()
            log(item[2])
        self.followups = []
        self.stop_stream()
        wait_for(lambda: (self.watch_op9(), not self.op9_watch)[1], 60, "the op 9 shards' new sessions")
        wait_for(self.all_shards_connected, 60, "every shard READY at the end")
        self.drain()
        sampler.close()
        return self.finish(sampler.rows)

    def start_stream(self):
        # The simulator's continuous generator: R events/s round-robin over the shards whose session has a live
        # connection, numbered per shard. Nothing is generated for a shard while it is disconnected, so the
        # numbers have no hole the relay could not have seen (docs/soak.md, "What is checked").
        self.sim.post("/_sim/config", {"rate": self.args.rate})

    def stop_stream(self):
        self.sim.post("/_sim/config", {"rate": 0})

    def post_webhooks(self):
        count = max(1, round(self.args.webhooks_per_minute / 12))
        try:
            self.sim.post("/_sim/webhook", {"generate": count, "url": self.webhook_url})
        except Exception as error:  # noqa: BLE001
            log(f"webhook post failed: {error!r}")

    def drain(self):
        """Once the simulator's webhook queue is empty, probes until every subscriber has written the same one."""
        wait_for(lambda: self.sim.get("/_sim/webhook/results")["pending"] == 0, 60, "the webhook queue to drain")
        wait_for(lambda: self.probe_all(5), 180, "every subscriber's last probe event")

    # ---- the verdict -----------------------------------------------------------------------------------------
    def finish(self, rows):
        args = self.args
        state = self.sim.get("/_sim/state")
        generated = {s["shard"]: s["generated"] for s in state["shards"]}
        accepted, sent = soak_check.webhook_outcomes(self.sim.get("/_sim/webhook/results")["results"])
        for name, proc in self.subscribers.items():
            if proc.poll() is not None:
                log(f"subscriber {name} had exited with {proc.returncode}")
            proc.send_signal(signal.SIGINT if name in ("python", "slow") else signal.SIGTERM)
        for proc in self.subscribers.values():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for f in self.sub_logs:
            f.close()
        self.relay_exits.append(("SIGTERM at the end", self.relay.stop(30)))
        self.sim.stop()

        streams = {name: soak_check.read_journal(os.path.join(self.out, f"sub-{name}.jsonl"))
                   for name in self.subscribers}
        anyone = {}
        for stream in streams.values():
            for shard, numbers in stream.items():
                if shard != "webhook":
                    anyone.setdefault(shard, set()).update(numbers)
        problems = []
        per_subscriber = {}
        for name, stream in streams.items():
            sub_problems, counts = soak_check.check_subscriber(stream, generated, self.op9_windows, accepted, sent,
                                                               anyone)
            per_subscriber[name] = counts
            problems += [f"{name}: {p}" for p in sub_problems]
        for how, status in self.relay_exits:
            if how.startswith("SIGTERM") and status != 0:
                problems.append(f"the relay exited with {status} after {how}")

        slopes, slope_problems = self.resource_slopes(rows)
        problems += slope_problems
        plotted = soak_samples.plot(rows, self.events, os.path.join(self.out, "samples.png"),
                                    f"soak: {args.minutes:g} min, {args.rate} events/s, {args.shards} shards")
        total_generated = sum(generated.values())
        summary = {
            "minutes": args.minutes, "rate": args.rate, "shards": args.shards, "seed": args.seed,
            "generated": total_generated, "generated_per_shard": generated,
            "webhooks_sent": len(sent), "webhooks_accepted": len(accepted),
            "op9_windows": self.op9_windows, "subscribers": per_subscriber,
            "faults": self.fault_log, "relay_exits": self.relay_exits, "relay_starts": self.relay_starts,
            "slopes_per_10min": slopes, "bounds_per_10min": {"rss_mib": args.rss_bound_mib, "fds": args.fd_bound,
                                                             "disk_mib": args.disk_bound_mib},
            "peak": {"rss_mib": max(r["rss_kib"] for r in rows) / 1024, "fds": max(r["fds"] for r in rows),
                     "threads": max(r["threads"] for r in rows),
                     "healthz_ms": max((r["healthz_ms"] for r in rows if r["healthz_ms"] != ""), default=None),
                     "loop_lag_ms": max((r["loop_lag_s"] * 1000 for r in rows if r.get("loop_lag_s", "") != ""),
                                        default=None)},
            "plot": plotted, "problems": problems,
        }
        with open(os.path.join(self.out, "summary.json"), "w") as f:
            json.dump(summary, f, indent=1, default=str)
        for problem in problems:
            log(f"PROBLEM {problem}")
        lost = sum(c["missing"] for c in per_subscriber.values())
        dups = sum(c["duplicates"] for c in per_subscriber.values())
        allowed = max((c["missing_allowed"] for c in per_subscriber.values()), default=0)
        faults = len(self.fault_log)
        worst = {key: max((s[key] for s in slopes if s.get(key) is not None), default=None)
                 for key in ("rss_mib", "fds", "disk_mib")}
        fmt = lambda v: "n/a" if v is None else f"{v:+.2f}"  # noqa: E731
        verdict = "PASS" if not problems else "FAIL"
        print(f"soak {verdict}: {args.minutes:g} min, {total_generated} events + {len(accepted)} webhooks to "
              f"{len(streams)} subscribers, {faults} faults ({self.relay_starts - 1} relay restarts incl. kill -9); "
              f"missing {lost}, duplicates {dups}, lost with op 9 sessions {allowed}; slopes per 10 min after "
              f"warm-up: RSS {fmt(worst['rss_mib'])} MiB (< {args.rss_bound_mib:g}), fds {fmt(worst['fds'])} "
              f"(< {args.fd_bound:g}), disk {fmt(worst['disk_mib'])} MiB (< {args.disk_bound_mib:g}); "
              f"peak RSS {summary['peak']['rss_mib']:.0f} MiB; {len(problems)} problems; out {self.out}", flush=True)
        if not problems and not args.keep_journals:  # a few GiB per hour; the summary has the counts
            for name in self.subscribers:
                os.unlink(os.path.join(self.out, f"sub-{name}.jsonl"))
            shutil.rmtree(os.path.join(self.state_dir, "journal"), ignore_errors=True)
        return 0 if not problems else 1

    def resource_slopes(self, rows):
        """Least-squares slopes per relay process, on its samples after warm-up: the first warm-up fraction of
        the run, and at least 30 s after the process started. A process with less than a minute of such samples
        is not fitted. Units: MiB (RSS, disk) and descriptors per 10 minutes."""
        args = self.args
        warmup = max(60.0, args.warmup_fraction * self.duration)
        out, problems = [], []
        for pid, start, seg in soak_samples.segments(rows):
            first = max(warmup, start + 30) if start > 1 else warmup
            fit = [r for r in seg if r["t_s"] >= first]
            if not fit or fit[-1]["t_s"] - fit[0]["t_s"] < 60:
                continue
            per10 = lambda column, scale: soak_samples.slope(  # noqa: E731
                [(r["t_s"], r[column] / scale) for r in fit]) * 600
            entry = {"pid": pid, "from_s": fit[0]["t_s"], "to_s": fit[-1]["t_s"], "samples": len(fit),
                     "rss_mib": per10("rss_kib", 1024), "fds": per10("fds", 1),
                     "disk_mib": per10("journal_bytes", 1024 * 1024), "threads": per10("threads", 1)}
            entry["disk_peak_mib"] = max(r["journal_bytes_now"] for r in fit) / (1024 * 1024)
            out.append(entry)
            if entry["disk_peak_mib"] > args.journal_mib + 1:
                problems.append(f"relay {pid} journal reached {entry['disk_peak_mib']:.1f} MiB, over "
                                f"publish.journal_max_bytes ({args.journal_mib} MiB)")
            for key, bound in (("rss_mib", args.rss_bound_mib), ("fds", args.fd_bound),
                               ("disk_mib", args.disk_bound_mib)):
                if entry[key] >= bound:
                    problems.append(f"relay {pid} {key} slope {entry[key]:+.2f} per 10 min over "
                                    f"{entry['from_s']:.0f}..{entry['to_s']:.0f} s is not below {bound:g}")
        if not out:
            problems.append("no relay process ran long enough after warm-up to fit a slope")
        return out, problems


def main():
    args = parse_args()
    out = args.out or os.path.join("/tmp", f"qq-relay-soak-{time.strftime('%Y%m%d-%H%M%S')}")
    if os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(out)
    out = os.path.abspath(out)
    soak = Soak(args, out)
    try:
        return soak.run()
    except Exception as error:  # noqa: BLE001 - a run that breaks still ends with one summary line
        import traceback
        traceback.print_exc()
        print(f"soak FAIL: the run itself broke: {error!r}; out {out}", flush=True)
        return 1
    finally:
        for proc in soak.subscribers.values():
            if proc.poll() is None:
                proc.kill()
        if soak.relay is not None and soak.relay.proc.poll() is None:
            soak.relay.proc.kill()
        if getattr(soak, "sim", None) is not None and soak.sim.proc.poll() is None:
            soak.sim.proc.kill()


if __name__ == "__main__":
    sys.exit(main())
