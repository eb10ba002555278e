#!/usr/bin/python3
"""Faults in a cluster of relays sharing one bot's shards through a real redis-server: a relay frozen with
SIGSTOP past its lease never publishes or saves for the shard it lost (fencing); Redis stopped longer than a
lease and started again (with its data: the shards resume; without: they identify, and the log says why); a
webhook delivered to two relays is published once; a webhook-only relay does not lower the gateway relays'
share."""
import json
import re
import signal
import threading
import time

from cluster_harness import LEASE_MS, cluster_config, cluster_value, held, sim_owners
from cluster_redis import RedisServer
from harness import Checks, Relay, Sim, Subscriber, expect, tear_down, wait_for, workdir
from metrics_client import get
from webhook_client import WebhookClient, accepts_connections, free_port

SHARDS = 2
LEASE = LEASE_MS / 1000
PREFIX = "qq-relay:102000000:"


def shard_key(shard, what):
    return f"{PREFIX}{{shard:{shard}/{SHARDS}}}:{what}"


class Node:
    """One relay of the cluster with its subscriber, metrics port and (optionally) webhook port."""

    def __init__(self, tmp, sim, redis, name, webhook=True, gateway=True):
        self.name = name
        self.metrics_port = free_port()
        self.webhook_port = free_port() if webhook else None
        endpoint = f"ipc://{tmp}/{name}.sock"
        extra = ""
        if webhook:
            extra += f'[webhook]\nenabled = true\nlisten = "127.0.0.1:{self.webhook_port}"\n'
        config = cluster_config(sim, redis, name, endpoint, f"{tmp}/state-{name}", SHARDS, self.metrics_port,
                                extra=extra)
        if not gateway:
            config = config.replace("[gateway]\n", "[gateway]\nenabled = false\n")
        self.subscriber = Subscriber(endpoint)
        self.relay = Relay(tmp, config, name=name)

    def value(self, name, labels=""):
        try:
            return cluster_value(self.metrics_port, name, labels)
        except Exception:  # noqa: BLE001 - not answering (yet, or frozen)
            return None

    def lease_changes(self, event):
        return self.value("lease_changes_total", f'event="{event}"') or 0

    def positions(self, result):
        return self.value("positions_total", f'result="{result}"') or 0

    def health(self):
        status, _, body = get(self.metrics_port, "/healthz")
        return status, (json.loads(body) if status else {})

    def gateway_events(self, shard, since=0):
        """(topic, meta) of the gateway dispatches of `shard` this relay published, from message `since` on."""
        return [(t, meta) for t, _, meta in self.subscriber.events()[since:]
                if meta["source"] == "gateway" and meta["shard"] and meta["shard"][0] == shard]

    def has_body(self, frame):
        return any(body == frame for _, body, _ in self.subscriber.snapshot())

    def redis_warnings(self):
        """Warning and error lines of the log that are about Redis."""
        return [line for line in self.relay.log_text().splitlines()
                if re.search(r" (warning|error|critical) ", line) and re.search("redis", line, re.I)]

    def close(self):
        self.relay.proc.send_signal(signal.SIGCONT)  # a failed check may leave it frozen
        self.relay.close()
        self.subscriber.close()


class Redis(RedisServer):
    close = RedisServer.stop  # for tear_down


def lease_owner(conn, shard):
    value = conn.command("GET", shard_key(shard, "lease"))
    if not value:
        return None, None
    token, node = value.split(" ", 1)
    return int(token), node


def position(conn, shard):
    fields = conn.command("HGETALL", shard_key(shard, "position")) or []
    return dict(zip(fields[::2], fields[1::2]))


def send(sim, shard, tag):
    """One dispatch on the shard; returns (s, frame bytes)."""
    sent = sim.post("/_sim/send", {"shard": shard, "t": "AT_MESSAGE_CREATE", "d": {"content": tag}})["sent"][0]
    return sent["s"], sent["frame"].encode()


def published_anywhere(nodes, frame):
    return any(node.has_body(frame) for node in nodes)


def post_until_recorded(redis, node, body, event_id):
    """Posts a webhook to one relay and waits until it published the event and recorded its id in the shared
    seen set: the platform retries an event seconds later, never within one Redis round trip (two relays
    getting one id that close may both publish it: docs/cluster.md)."""
    status, answer = WebhookClient(node.webhook_port).post(body)
    expect(status == 200, f"{node.name} answered {status} {answer}")
    probe = redis.connect()
    try:
        wait_for(lambda: node.has_body(body) and probe.command("EXISTS", f"qq-relay:102000000:seen:{event_id}") == 1,
                 10, f"{node.name} publishing {event_id} and recording its id")
    finally:
        probe.close()


def main():
    checks = Checks()
    tmp = workdir()
    redis = Redis(persistent=True)
    sim = Sim(tmp, "--shards", str(SHARDS), "--max-concurrency", str(SHARDS), "--heartbeat-interval", "1000")
    a = Node(tmp, sim, redis, "a")
    b = Node(tmp, sim, redis, "b")
    parts = [a, b, sim, redis]
    conn = None
    try:
        def balanced():
            """Each relay holds one shard, and both shards are live on the simulator."""
            return held(a.metrics_port) == 1 and held(b.metrics_port) == 1 and len(sim_owners(sim, SHARDS)) == 2

        def subscribers_joined():
            # A probe on every shard, published by whichever relay holds it, reaches that relay's subscriber
            # (a probe published before the SUB joined is gone: then another one).
            frames = [send(sim, shard, f"join-{shard}-{time.monotonic()}")[1] for shard in range(SHARDS)]
            try:
                return wait_for(lambda: all(published_anywhere((a, b), f) for f in frames), 0.5, "probes")
            except AssertionError:
                return False

        def setup():
            wait_for(balanced, 30, "one shard on each relay, both live on the simulator")
            wait_for(subscribers_joined, 15, "the subscribers receiving both relays' events")
        checks.run("two relays share the two shards, one each", setup)
        conn = redis.connect()

        # ------------------------------------------------------------------------------------------ webhooks
        def webhooks_published_once():
            wait_for(lambda: accepts_connections(a.webhook_port) and accepts_connections(b.webhook_port), 10,
                     "both webhook listeners")
            dropped_before = {n.name: n.value("duplicates_dropped_total") for n in (a, b)}
            event = ('{"op":0,"id":"GROUP_AT_MESSAGE_CREATE:cluster-%s","t":"GROUP_AT_MESSAGE_CREATE",'
                     '"d":{"content":"once","group_openid":"G1","id":"ROBOT1.0_c%s"}}')
            same = (event % ("same", "same")).encode()
            # Behind a load balancer, the platform's retry of one event lands on the other relay.
            post_until_recorded(redis, a, same, "GROUP_AT_MESSAGE_CREATE:cluster-same")
            status, answer = WebhookClient(b.webhook_port).post(same)
            expect(status == 200, f"b answered {status} {answer}")
            distinct = [(event % (i, i)).encode() for i in range(4)]
            for i, body in enumerate(distinct):
                status, _ = WebhookClient((a, b)[i % 2].webhook_port).post(body)
                expect(status == 200, f"webhook {i}: {status}")
            # The distinct ones went out after the repeat: once they are all published, so is everything.
            wait_for(lambda: all(published_anywhere((a, b), body) for body in distinct), 10,
                     "every distinct webhook event published")
            wait_for(lambda: sum(n.value("duplicates_dropped_total") - dropped_before[n.name] for n in (a, b)) >= 1,
                     5, "the repeat counted as dropped")
            for body in [same, *distinct]:
                copies = sum(1 for node in (a, b) for _, got, _ in node.subscriber.snapshot() if got == body)
                expect(copies == 1, f"{body[:60]!r} published {copies} times across the two relays")
            dropped = {n.name: n.value("duplicates_dropped_total") - dropped_before[n.name] for n in (a, b)}
            expect(dropped == {"a": 0, "b": 1}, f"duplicates dropped {dropped}, not 1 on b, the second")
        checks.run("the same webhook event posted to two relays is published once (the second drops it); "
                   "distinct events once each", webhooks_published_once)

        # ------------------------------------------------------------------------------------------ fencing
        def frozen_relay_is_fenced():
            wait_for(balanced, 20, "one shard on each relay")
            lost = next(s for s in range(SHARDS) if lease_owner(conn, s)[1] == "a")
            a_token = lease_owner(conn, lost)[0]
            _, probe = send(sim, lost, "before-stop")
            wait_for(lambda: a.has_body(probe), 10, "relay a publishing its shard's probe")
            seq_floor = int(position(conn, lost).get("seq", 0))
            a_since = len(a.subscriber.snapshot())
            a_claimed = a.lease_changes("claimed")
            a_stops = a.lease_changes("lost") + a.lease_changes("expiring")

            a.relay.proc.send_signal(signal.SIGSTOP)
            stopped = time.monotonic()
            # Still sent to a's connection (its session is attached there): they wait in a's socket buffer.
            buffered = [send(sim, lost, f"while-frozen-{i}") for i in range(3)]
            # One that only a's socket has: not kept for Resume, so the next owner never receives it. If a
            # published it after waking, neither the duplicate check nor anything else would stop it.
            only_a = sim.post("/_sim/fault", {"shard": lost, "kind": "oversized", "bytes": 600,
                                              "retain": False})["applied"][0]["s"]

            def b_took_over():
                owner = lease_owner(conn, lost)
                return owner[1] == "b" and held(b.metrics_port) == 2 and lost in sim_owners(sim, SHARDS)
            wait_for(b_took_over, 4 * LEASE + 5, "relay b holding the frozen relay's shard, live on the sim")
            took = time.monotonic() - stopped
            b_token = lease_owner(conn, lost)[0]
            expect(b_token > a_token, f"b's fencing token {b_token} is not above a's {a_token}")
            after = [send(sim, lost, f"after-takeover-{i}") for i in range(3)]
            wait_for(lambda: all(b.has_body(frame) for _, frame in buffered + after), 10,
                     "b publishing what a missed (replayed on Resume) and what came after")
            top = max(s for s, _ in buffered + after)
            wait_for(lambda: int(position(conn, lost).get("seq", 0)) >= top, 5, "b's position saved in Redis")
            # Frozen for at least twice the lease.
            wait_for(lambda: time.monotonic() - stopped >= 2 * LEASE, 2 * LEASE + 1, "two leases")
            before_wake = position(conn, lost)

            # Watch the position hash while a wakes: it must never go back nor carry a's token.
            samples, watching = [], [True]

            def watch():
                watcher = redis.connect()
                try:
                    while watching[0]:
                        samples.append(position(watcher, lost))
                        time.sleep(0.01)
                finally:
                    watcher.close()
            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
            a.relay.proc.send_signal(signal.SIGCONT)
            woke = time.monotonic()
            try:
                wait_for(lambda: a.lease_changes("lost") + a.lease_changes("expiring") > a_stops, 10,
                         "relay a counting the stop of the shard it lost")
                noticed = time.monotonic() - woke
                # One more event, and b's position moves past it: a's writes (sent when it woke) are answered.
                s_last, frame_last = send(sim, lost, "after-wake")
                wait_for(lambda: int(position(conn, lost).get("seq", 0)) >= s_last, 10, "b's next position")
                wait_for(lambda: published_anywhere((a, b), frame_last), 10, "the event after a woke")
            finally:
                watching[0] = False
                watcher.join(5)
            fenced = a.value("fenced_events_total")
            print(f"  a frozen at {seq_floor}, b took shard {lost} over after {took:.1f} s (tokens {a_token} -> "
                  f"{b_token}); a after waking: fenced events {fenced:.0f}, lease_lost "
                  f"{a.lease_changes('lost'):.0f}, lease_expiring {a.lease_changes('expiring'):.0f}, positions "
                  f"refused {a.positions('refused'):.0f}, noticed {noticed:.1f} s after SIGCONT",
                  flush=True)
            # Nothing a published for that shard since it was frozen, unless it won the shard again later and
            # resumed after what b had reached (a handover back to a is allowed).
            stale = [(t, meta["seq"]) for t, meta in a.gateway_events(lost, a_since)
                     if meta["seq"] is None or meta["seq"] <= int(before_wake["seq"])]
            expect(not stale, f"a published events of the shard it lost after waking: {stale}")
            expect(a.lease_changes("claimed") > a_claimed or not a.gateway_events(lost, a_since),
                   "a published gateway events of the lost shard without claiming it again")
            expect(not any(meta["seq"] == only_a for _, meta in a.gateway_events(lost, a_since)),
                   "a published the event only its frozen socket held")
            expect(any(int(p.get("seq", 0)) for p in samples), "no position sample read while a woke")
            seqs = [int(p["seq"]) for p in samples if p]
            expect(seqs == sorted(seqs), f"the stored seq went backwards while a woke: {seqs}")
            tokens = {int(p["token"]) for p in samples if p}
            expect(a_token not in tokens, f"a's token {a_token} was written over b's position: {tokens}")
            final = position(conn, lost)
            expect(int(final["token"]) == b_token or lease_owner(conn, lost)[1] == "a",
                   f"position {final}: not b's token {b_token}")
            expect(int(final["seq"]) >= int(before_wake["seq"]), f"seq went back: {before_wake} -> {final}")
            expect(fenced > 0 or a.positions("refused") > 0 or a.lease_changes("lost") + a.lease_changes("expiring")
                   > a_stops, "a shows neither fenced events, nor a lease stop, nor a refused position")
        checks.run("a relay frozen with SIGSTOP past its lease is fenced when continued: it publishes nothing "
                   "of the shard b took over and never writes over b's position", frozen_relay_is_fenced)

        # ------------------------------------------------------------------------------------------ Redis down
        def redis_down_then_back():
            wait_for(balanced, 20, "one shard on each relay")
            expiring = {n.name: n.lease_changes("expiring") for n in (a, b)}
            warnings = {n.name: len(n.redis_warnings()) for n in (a, b)}
            identifies = sim.get("/_sim/state")["identifies"]
            sessions = {position(conn, shard)["session_id"] for shard in range(SHARDS)}
            redis.stop()
            down = time.monotonic()
            for node in (a, b):
                wait_for(lambda: node.value("redis_up") == 0, 2 * LEASE + 3, f"{node.name}: redis_up 0")
                # Renewed at most lease/3 ago, stopped a fifth of the lease before expiry: still held now.
                expect(held(node.metrics_port) == 1, f"{node.name} stopped its shard as soon as Redis went down")
            for node in (a, b):
                status, body = node.health()
                expect(status == 200 and body.get("status") == "degraded", f"{node.name} /healthz {status} {body}")
                # Each shard runs until its lease runs out, then stops without ending its session.
                wait_for(lambda: held(node.metrics_port) == 0, LEASE + 3, f"{node.name} stopping its shard")
                expect(node.lease_changes("expiring") > expiring[node.name], f"{node.name}: no expiring stop")
            stopped_after = time.monotonic() - down
            wait_for(lambda: not sim_owners(sim, SHARDS), 5, "no shard live on the simulator")
            # Events while no relay serves: kept for Resume by the platform.
            missed = [send(sim, shard, f"redis-down-{shard}") for shard in range(SHARDS)]
            wait_for(lambda: time.monotonic() - down > 1.5 * LEASE, 2 * LEASE, "Redis down for 1.5 leases")
            for node in (a, b):
                status, body = node.health()
                expect(status == 200 and body.get("status") == "degraded", f"{node.name} /healthz {status} {body}")
            lines = {n.name: len(n.redis_warnings()) - warnings[n.name] for n in (a, b)}
            print(f"  shards stopped {stopped_after:.1f} s after Redis went down; Redis warnings logged while "
                  f"down: {lines}", flush=True)
            for node in (a, b):
                said = node.redis_warnings()[warnings[node.name]:]
                expect(1 <= len(said) <= 12, f"{node.name}: {len(said)} Redis warning lines: {said}")
                expect(any("connection to" in line and "lost" in line for line in said),
                       f"{node.name}: no line saying the connection to Redis was lost: {said}")

            log_mark = time.time() * 1e6
            redis.restart()
            back = time.monotonic()
            wait_for(lambda: a.value("redis_up") == 1 and b.value("redis_up") == 1, 15, "redis_up 1 on both")
            wait_for(lambda: held(a.metrics_port) + held(b.metrics_port) == SHARDS
                     and len(sim_owners(sim, SHARDS)) == SHARDS, 15, "both shards claimed again and live")
            print(f"  both shards served again {time.monotonic() - back:.1f} s after Redis restarted", flush=True)
            frames = [json.loads(r["frame"]) for r in sim.get("/_sim/log")["received"]
                      if r["at_us"] >= log_mark and r["frame"].startswith("{")]
            ops = [f.get("op") for f in frames]
            expect(ops.count(6) >= SHARDS and 2 not in ops, f"ops sent after the restart: {ops}")
            resumed = {f["d"]["session_id"] for f in frames if f.get("op") == 6}
            expect(resumed == sessions, f"resumed {resumed}, stored before the stop {sessions}")
            expect(sim.get("/_sim/state")["identifies"] == identifies, "a new session was identified")
            for node in (a, b):
                wait_for(lambda: node.health()[1].get("status") == "ok", 10, f"{node.name} /healthz ok")
            after = [send(sim, shard, f"redis-back-{shard}") for shard in range(SHARDS)]
            wait_for(lambda: all(published_anywhere((a, b), f) for _, f in missed + after), 10,
                     "the events sent while Redis was down and after it came back")
            expect(any("Redis is back" in n.relay.log_text() for n in (a, b)), "no 'Redis is back' line")
        checks.run("Redis stopped longer than a lease: shards stop as their leases run out, /healthz degraded, a "
                   "few log lines; restarted with its data: shards resumed, no new session, nothing lost",
                   redis_down_then_back)

        def redis_restarted_empty():
            wait_for(lambda: held(a.metrics_port) + held(b.metrics_port) == SHARDS
                     and len(sim_owners(sim, SHARDS)) == SHARDS, 15, "both shards served")
            missing = a.positions("missing") + b.positions("missing")
            log_lines = {n.name: len(n.relay.log_text().splitlines()) for n in (a, b)}
            identifies = sim.get("/_sim/state")["identifies"]
            redis.stop()
            # Down until every lease ran out: a relay still holding one when an emptied Redis is back writes its
            # position again (no lease refuses it), and that shard resumes instead.
            for node in (a, b):
                wait_for(lambda: held(node.metrics_port) == 0, LEASE + 3, f"{node.name} stopping its shard")
            redis.persistent = False  # started again without its append-only file: everything is gone
            redis.restart()
            wait_for(lambda: sim.get("/_sim/state")["identifies"] >= identifies + SHARDS, 8 * LEASE + 10,
                     "both shards identifying new sessions")
            wait_for(lambda: held(a.metrics_port) + held(b.metrics_port) == SHARDS
                     and len(sim_owners(sim, SHARDS)) == SHARDS, 15, "both shards served again")
            expect(a.positions("missing") + b.positions("missing") >= missing + SHARDS, "positions missing not counted")
            said = [line for n in (a, b) for line in n.relay.log_text().splitlines()[log_lines[n.name]:]
                    if "no stored position" in line]
            expect(len(said) >= SHARDS and all("Redis lost" in line for line in said),
                   f"not every shard's line says Redis lost the position: {said}")
            print(f"  {said[0].split('cluster: ', 1)[-1]}", flush=True)
            frames = [send(sim, shard, f"redis-empty-{shard}")[1] for shard in range(SHARDS)]
            wait_for(lambda: all(published_anywhere((a, b), f) for f in frames), 10, "events of the new sessions")
        checks.run("Redis stopped longer than a lease and restarted without its data: the shards identify new "
                   "sessions and the log says Redis lost the positions", redis_restarted_empty)

        # ------------------------------------------------------------------------------------------ webhook-only
        def webhook_only_relay_takes_no_share():
            c = Node(tmp, sim, redis, "c", gateway=False)
            parts.insert(0, c)
            wait_for(lambda: c.value("redis_up") == 1 and accepts_connections(c.webhook_port), 15,
                     "the webhook-only relay up")
            warm_up = iter(range(1000))

            def c_subscriber_joined():
                # What c publishes before its subscriber joined is gone: webhook probes until one arrives.
                probe = ('{"op":0,"id":"GROUP_AT_MESSAGE_CREATE:join-%d","t":"GROUP_AT_MESSAGE_CREATE",'
                         '"d":{"content":"join"}}' % next(warm_up)).encode()
                expect(WebhookClient(c.webhook_port).post(probe)[0] == 200, "c refused a probe")
                try:
                    return wait_for(lambda: c.has_body(probe), 0.5, "the probe")
                except AssertionError:
                    return False
            wait_for(c_subscriber_joined, 15, "c's subscriber receiving c's events")
            expect(b.relay.stop() == 0, "b did not exit 0 on SIGTERM")
            wait_for(lambda: held(a.metrics_port) == SHARDS and len(sim_owners(sim, SHARDS)) == SHARDS,
                     3 * LEASE + 5, "relay a holding every shard")
            expect(a.value("live_nodes") == 1, f"a counts {a.value('live_nodes')} live nodes, not 1")
            expect(held(c.metrics_port) == 0, "the webhook-only relay holds a lease")
            body = ('{"op":0,"id":"GROUP_AT_MESSAGE_CREATE:only","t":"GROUP_AT_MESSAGE_CREATE",'
                    '"d":{"content":"c","group_openid":"G1","id":"ROBOT1.0_only"}}').encode()
            post_until_recorded(redis, c, body, "GROUP_AT_MESSAGE_CREATE:only")
            expect(WebhookClient(a.webhook_port).post(body)[0] == 200, "a refused the webhook")
            # Each relay's duplicate checks answer in order: once its probe is out, so is its decision on body.
            for node in (c, a):
                probe = body.replace(b":only", f":only-{node.name}".encode())
                expect(WebhookClient(node.webhook_port).post(probe)[0] == 200, f"{node.name} refused the probe")
                wait_for(lambda: node.has_body(probe), 10, f"{node.name} publishing its probe")
            copies = sum(1 for n in (a, c) for _, got, _ in n.subscriber.snapshot() if got == body)
            expect(copies == 1, f"the webhook event posted to c and a was published {copies} times")
        checks.run("a webhook-only relay in the cluster takes no share: the one gateway relay left holds every "
                   "shard, and the duplicate check covers the webhook-only relay", webhook_only_relay_takes_no_share)

        def every_relay_exits_cleanly():
            # Also where a sanitizer build reports leaks or errors: at exit, as a non-zero status.
            codes = {n.name: n.relay.stop() for n in parts if isinstance(n, Node) and n.relay.proc.poll() is None}
            expect(codes and all(code == 0 for code in codes.values()), f"exit codes on SIGTERM: {codes}")
        checks.run("every relay still running exits 0 on SIGTERM", every_relay_exits_cleanly)
    finally:
        if conn:
            conn.close()
        tear_down(checks, tmp, *parts)
    checks.finish()


if __name__ == "__main__":
    main()
