#!/usr/bin/python3
"""Three relays sharing six shards through a real redis-server (lease_ms 2000), the simulator, and the Python
cluster client following all three relays (--relay PUB,REPLAY for each): the shards split with none on two
relays; a relay killed with SIGKILL mid-stream has its shards resumed by the others (same sessions, op 6, no new
Identify) within the lease plus a few seconds, with every event exactly once in the client's merged journal; a
SIGTERM moves the shards at once; a relay that joins gets its fair share by handover, again by Resume; and the
Identifies of three relays starting together are paced across the relays by Redis."""
import collections
import json
import os
import re
import subprocess
import time

from harness import Checks, Relay, Sim, expect, tear_down, wait_for, workdir
from client_journal import journal_lines
from cluster_harness import LEASE_MS, cluster_config, free_port, held, lease_owners, sim_owners
from cluster_redis import RedisServer
from metrics_client import metrics

SOURCE = os.environ.get("QQ_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
CLIENT = os.path.join(SOURCE, "clients", "python", "relay_subscriber.py")
SHARDS = 6
RATE = 100  # generated events per second on each shard
STREAM = 400  # events per shard in each streaming step: 4 s, longer than a failover
LEASE_S = LEASE_MS / 1000
# Identify pacing step: one max_concurrency bucket, so that every Identify of every relay shares one slot.
PACED_SHARDS = 4
WINDOW_MS = 1_500
# The simulator's receive times differ from the relays' send times by some hundred microseconds either way: a
# window 100 ms short of the pacer's keeps the check off that edge and still fails unpaced Identifies (those of
# relays starting together come within milliseconds of each other).
WINDOW_US = (WINDOW_MS - 100) * 1000
CONTENT = re.compile(r"event (\d+)-(\d+) ")


def now_us():
    return time.time_ns() // 1000


def metric_total(port, name):
    """The sum of a metric's samples over its labels (0 while the relay does not answer)."""
    try:
        return sum(value for (sample, _), value in metrics(port).items() if sample == name)
    except Exception:  # not listening, or gone
        return 0


def frames(sim, op, since_us=0):
    """(at_us, d) of every frame with this op that the relays sent at or after since_us."""
    out = []
    for entry in sim.get("/_sim/log")["received"]:
        frame = json.loads(entry["frame"])
        if frame.get("op") == op and entry["at_us"] >= since_us:
            out.append((entry["at_us"], frame["d"]))
    return out


class Node:
    """One relay of the cluster. start() again after a kill or a stop runs it with the same name, endpoints,
    metrics port and state directory, as a restarted host would."""

    def __init__(self, tmp, sim, redis, name, shards, extra_gateway=""):
        self.tmp, self.name = tmp, name
        self.pub, self.replay = f"ipc://{tmp}/{name}-pub.sock", f"ipc://{tmp}/{name}-replay.sock"
        self.metrics_port = free_port()
        self.config = cluster_config(sim, redis, name, self.pub, f"{tmp}/{name}-state", shards, self.metrics_port)
        self.config = self.config.replace("[publish]\n", f'[publish]\nreplay_endpoint = "{self.replay}"\n')
        self.config = self.config.replace("[gateway]\n", f"[gateway]\n{extra_gateway}\n")
        self.relay = None
        self.runs = 0

    def start(self):
        self.runs += 1
        self.relay = Relay(self.tmp, self.config, name=f"{self.name}-{self.runs}")

    def alive(self):
        return self.relay is not None and self.relay.proc.poll() is None

    def held(self):
        return held(self.metrics_port) if self.alive() else 0

    def metric(self, name, labels=None):
        """A metric's value with these labels, or the sum over its labels when None; 0 when not running."""
        if not self.alive():
            return 0
        if labels is None:
            return metric_total(self.metrics_port, name)
        return metrics(self.metrics_port).get((name, labels), 0)

    def kill(self):
        self.relay.close()  # SIGKILL

    def close(self):
        if self.relay is not None:
            self.relay.close()


class Cluster:
    """The simulator, Redis, the three relays and one cluster client journaling what it receives."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.sim = Sim(tmp, "--shards", str(SHARDS), "--max-concurrency", str(SHARDS))
        self.redis = RedisServer()
        self.nodes = [Node(tmp, self.sim, self.redis, f"relay-{x}", SHARDS) for x in "abc"]
        self.journal = f"{tmp}/client.jsonl"
        flags = [f"--relay={n.pub},{n.replay}" for n in self.nodes]
        self.client_errors = open(self.journal + ".err", "w")
        self.client = subprocess.Popen(["/usr/bin/python3", CLIENT, *flags, "--journal", self.journal],
                                       stdout=subprocess.DEVNULL, stderr=self.client_errors)

    def node(self, name):
        return next(n for n in self.nodes if n.name == name)

    def owners(self):
        return lease_owners(self.redis, SHARDS)

    def shards_of(self, node):
        return sorted(i for i, owner in self.owners().items() if owner == node.name)

    def sim_shards(self):
        return {s["shard"]: s for s in self.sim.get("/_sim/state")["shards"]}

    def sessions(self):
        return {i: s["session_id"] for i, s in self.sim_shards().items()}

    def moved(self, shards, old_conns):
        """Whether each of these shards is live on a connection other than the one it had."""
        live = sim_owners(self.sim, SHARDS)
        return all(i in live and live[i] != old_conns[i] for i in shards)

    def journaled(self):
        """(shard, n) of every generated event in the client's journal, in order."""
        out = []
        for line in journal_lines(self.journal):
            if line["topic"] == "C2C_MESSAGE_CREATE":
                match = CONTENT.match(json.loads(line["body"])["d"]["content"])
                out.append((int(match.group(1)), int(match.group(2))))
        return out

    def sync_client(self):
        """PUB/SUB joins asynchronously: probe events on every live shard until the client has journaled one from
        every relay that holds shards."""
        def arrived():
            holders = {n.pub for n in self.nodes if n.held() > 0}
            self.sim.post("/_sim/send", {"t": "PROBE", "d": {}})
            try:
                return wait_for(lambda: holders <= {l["relay"] for l in journal_lines(self.journal)
                                                    if l["topic"] == "PROBE"}, 0.3, "a probe")
            except AssertionError:
                return False
        wait_for(arrived, 30, "the client to receive probes from every relay")

    def stream(self):
        """STREAM more events on every shard at RATE; returns once the client has received some of them from
        every shard, so that the stream is known to be flowing end to end."""
        before = collections.Counter(shard for shard, _ in self.journaled())
        for i in range(SHARDS):
            self.sim.post("/_sim/generate", {"shard": i, "count": STREAM, "rate": RATE})

        def flowing():
            now = collections.Counter(shard for shard, _ in self.journaled())
            return all(now[i] >= before[i] + RATE // 5 for i in range(SHARDS))
        wait_for(flowing, 10, "events from every shard in the client's journal")

    def every_event_once(self, timeout=30):
        """After the stream ends, the client's journal holds every event the simulator generated (on every shard,
        in every step so far) exactly once."""
        wait_for(lambda: all(s["pending"] == 0 for s in self.sim_shards().values()), timeout, "the stream's end")
        expected = {(i, n) for i, s in self.sim_shards().items() for n in range(1, s["generated"] + 1)}
        deadline = time.monotonic() + timeout
        while not expected <= set(self.journaled()) and time.monotonic() < deadline:
            time.sleep(0.1)
        got = self.journaled()
        missing = sorted(expected - set(got))
        repeated = [e for e, k in collections.Counter(got).items() if k > 1]
        expect(not missing, f"{len(missing)} events missing from the client's journal, e.g. {missing[:10]}")
        expect(not repeated, f"{len(repeated)} events journaled more than once, e.g. {sorted(repeated)[:10]}")
        expect(set(got) == expected, f"unexpected events: {sorted(set(got) - expected)[:10]}")
        return len(got)

    def expect_resumed(self, shards, sessions, since_us):
        """Since since_us: no Identify at all, a Resume of each of these shards' sessions, the sessions kept."""
        identifies = frames(self.sim, 2, since_us)
        expect(not identifies, f"new sessions: {[d['shard'] for _, d in identifies]}")
        resumed = {d["session_id"] for _, d in frames(self.sim, 6, since_us)}
        expect({sessions[i] for i in shards} <= resumed,
               f"no Resume of the sessions of shards {[i for i in shards if sessions[i] not in resumed]}")
        expect(self.sessions() == sessions, f"sessions changed: {sessions} -> {self.sessions()}")

    def close(self):
        if self.client.poll() is None:
            self.client.kill()
            self.client.wait()
        self.client_errors.close()
        for node in self.nodes:
            node.close()
        self.sim.stop()
        self.redis.stop()


def main():
    checks = Checks()
    tmp = workdir()
    cluster = Cluster(tmp)
    try:
        def split():
            for node in cluster.nodes:
                node.start()
            fair = SHARDS // len(cluster.nodes)
            wait_for(lambda: [n.held() for n in cluster.nodes] == [fair] * len(cluster.nodes)
                     and len(sim_owners(cluster.sim, SHARDS)) == SHARDS, 4 * LEASE_S + 15,
                     f"{fair} shards on each relay, every shard live")
            owners = cluster.owners()
            expect(sorted(collections.Counter(owners.values()).items()) ==
                   [(n.name, fair) for n in cluster.nodes], f"leases in Redis: {owners}")
            state = cluster.sim.get("/_sim/state")
            live = collections.Counter(c["shard"][0] for c in state["connections"]
                                       if c["attached"] and not c["closing"] and c["shard"])
            expect(live == {i: 1 for i in range(SHARDS)}, f"live connections per shard: {live}")
            expect(sum(n.held() for n in cluster.nodes) == SHARDS, "held leases do not add up")
            expect(state["identifies"] == SHARDS, f"{state['identifies']} Identifies for {SHARDS} shards")
            print(f"split: {owners}")
            cluster.sync_client()
        checks.run("three relays split the six shards, none on two relays, none unserved", split)

        def kill_mid_stream():
            victim = cluster.node("relay-a")
            shards = cluster.shards_of(victim)
            expect(shards, "relay-a holds no shard")
            sessions = cluster.sessions()
            old_conns = {i: s["conn"] for i, s in cluster.sim_shards().items()}
            cluster.stream()
            since_us, started = now_us(), time.monotonic()
            victim.kill()
            wait_for(lambda: not {cluster.owners()[i] for i in shards} & {None, victim.name}, LEASE_S + 5,
                     f"the leases of shards {shards} claimed by the others")
            claimed = time.monotonic() - started
            wait_for(lambda: cluster.moved(shards, old_conns), LEASE_S + 5, f"shards {shards} resumed")
            resumed = time.monotonic() - started
            print(f"kill -9 of relay-a: shards {shards} claimed after {claimed:.2f} s, live again after "
                  f"{resumed:.2f} s (lease_ms {LEASE_MS})")
            cluster.expect_resumed(shards, sessions, since_us)
            total = cluster.every_event_once()
            survivors = [n for n in cluster.nodes if n.alive()]
            dropped = sum(n.metric("qq_relay_cluster_duplicates_dropped_total") for n in survivors)
            local = sum(n.metric("qq_relay_duplicates_dropped_total") for n in survivors)
            print(f"after the kill: {total} events journaled once each; the survivors dropped {dropped:.0f} repeats "
                  f"through the shared seen set and {local:.0f} through their own dedupe window")
        checks.run("kill -9 mid-stream: the shards resume on the others, same sessions, every event once",
                   kill_mid_stream)

        def graceful_leave():
            leaving = cluster.node("relay-b")
            shards = cluster.shards_of(leaving)
            expect(shards, "relay-b holds no shard")
            sessions = cluster.sessions()
            old_conns = {i: s["conn"] for i, s in cluster.sim_shards().items()}
            cluster.stream()
            since_us, started = now_us(), time.monotonic()
            expect(leaving.relay.stop() == 0, "relay-b's exit code")
            exited = time.monotonic() - started
            owners = cluster.owners()
            expect(leaving.name not in owners.values(), f"relay-b left leases behind: {owners}")
            wait_for(lambda: cluster.moved(shards, old_conns), LEASE_S, f"shards {shards} resumed")
            took = time.monotonic() - started
            print(f"SIGTERM of relay-b: exited after {exited:.2f} s, shards {shards} live again after {took:.2f} s")
            cluster.expect_resumed(shards, sessions, since_us)
            total = cluster.every_event_once()
            print(f"after the graceful stop: {total} events journaled once each")
        checks.run("SIGTERM: the shards move at once, by Resume, every event once", graceful_leave)

        def join():
            joiner, giver = cluster.node("relay-a"), cluster.node("relay-c")
            sessions = cluster.sessions()
            handovers = giver.metric("qq_relay_cluster_lease_changes_total", 'event="handover"')
            cluster.stream()
            since_us, started = now_us(), time.monotonic()
            joiner.start()
            half = SHARDS // 2
            wait_for(lambda: joiner.held() == half and giver.held() == half
                     and len(sim_owners(cluster.sim, SHARDS)) == SHARDS, half * LEASE_S + 10,
                     f"{half} shards on each relay")
            took = time.monotonic() - started
            moved = cluster.shards_of(joiner)
            print(f"join of relay-a: shards {moved} handed over, split {half}/{half} after {took:.2f} s")
            cluster.expect_resumed(moved, sessions, since_us)
            handed = giver.metric("qq_relay_cluster_lease_changes_total", 'event="handover"') - handovers
            expect(handed == half, f"relay-c counted {handed} handovers, not {half}")
            total = cluster.every_event_once()
            print(f"after the join: {total} events journaled once each")
        checks.run("a relay that joins gets its fair share by handover, by Resume, every event once", join)
    finally:
        cluster.close()

    paced = {}
    try:
        def identify_pacing():
            paced["sim"] = sim = Sim(tmp, "--shards", str(PACED_SHARDS), "--max-concurrency", "1")
            paced["redis"] = redis = RedisServer()
            nodes = [Node(tmp, sim, redis, f"paced-{x}", PACED_SHARDS, f"identify_window_ms = {WINDOW_MS}")
                     for x in "abc"]
            paced["nodes"] = nodes
            for node in nodes:
                node.start()
            wait_for(lambda: len(sim_owners(sim, PACED_SHARDS)) == PACED_SHARDS,
                     PACED_SHARDS * WINDOW_MS / 1000 + 15, "every shard live")
            identifies = frames(sim, 2)
            times = sorted(t for t, _ in identifies)
            gaps = [(b - a) / 1000 for a, b in zip(times, times[1:])]
            by_relay = {n.name: n.metric("qq_relay_identifies_total") for n in nodes}
            waits = sum(n.metric("qq_relay_cluster_identify_waits_total") for n in nodes)
            print(f"identify pacing: {len(times)} Identifies, gaps {[round(g) for g in gaps]} ms; by relay "
                  f"{by_relay}; {waits:.0f} waits for another relay's slot")
            expect(sorted(tuple(d["shard"]) for _, d in identifies) ==
                   [(i, PACED_SHARDS) for i in range(PACED_SHARDS)], f"not one Identify per shard: {identifies}")
            expect(all(b - a >= WINDOW_US for a, b in zip(times, times[1:])),
                   f"two Identifies of one bucket within {WINDOW_US // 1000} ms: gaps {gaps} ms")
            # Nor much slower than the window needs: a waiter gets the slot when it frees. A handover in between
            # may delay one Identify by up to a heartbeat (lease_ms / 3), and on a loaded machine (a sanitizer
            # build beside other work) a waiter's timer that fires after another relay took the slot costs one
            # window more: at most one such window is allowed.
            span_ms = (times[-1] - times[0]) / 1000
            expect(span_ms < PACED_SHARDS * WINDOW_MS + 1000,
                   f"{PACED_SHARDS} Identifies took {span_ms:.0f} ms: gaps {gaps} ms")
        checks.run("three relays starting together: one Identify per identify window across the relays",
                   identify_pacing)
    finally:
        for node in paced.get("nodes", []):
            node.close()
        for part in ("sim", "redis"):
            if part in paced:
                paced[part].stop()
    tear_down(checks, tmp)
    checks.finish()


if __name__ == "__main__":
    main()
