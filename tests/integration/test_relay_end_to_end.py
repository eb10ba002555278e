#!/usr/bin/python3
"""The relay end to end: simulator with 4 shards and max_concurrency 2, the relay, and a Python subscriber."""
import json
import socket
import os
import signal

from harness import Checks, Relay, Sim, Subscriber, relay_config, wait_for, workdir, FIXTURES, tear_down

SHARDS = 4
HEARTBEAT_MS = 1000


def main():
    checks = Checks()
    tmp = workdir()
    endpoint = f"ipc://{tmp}/relay.sock"
    sim = Sim(tmp, "--shards", str(SHARDS), "--max-concurrency", "2", "--heartbeat-interval", str(HEARTBEAT_MS),
              "--fixtures", FIXTURES)
    subscriber = Subscriber(endpoint)  # connects before the relay binds, so it sees every message
    relay = Relay(tmp, relay_config(sim, endpoint, f"{tmp}/state"))
    try:
        wait_for(lambda: sum(1 for s in sim.get("/_sim/state")["shards"] if s["connected"] and s["session_id"])
                 == SHARDS, 40, "every shard to be READY")
        sent = []

        def check_identifies():
            log = sim.get("/_sim/log")
            identifies = [(r["at_us"], json.loads(r["frame"])["d"]) for r in log["received"]
                          if json.loads(r["frame"]).get("op") == 2]
            shards = sorted(tuple(d["shard"]) for _, d in identifies)
            assert shards == [(i, SHARDS) for i in range(SHARDS)], shards
            for _, d in identifies:
                assert d["token"].startswith("QQBot "), d["token"]
                assert d["intents"] == 1 | (1 << 30) | (1 << 25), d["intents"]
            times = sorted(t for t, _ in identifies)
            for i, start in enumerate(times):
                in_window = [t for t in times[i:] if t - start < 5_000_000]
                assert len(in_window) <= 2, f"{len(in_window)} identifies within 5 s: {times}"
            http = log["http"]
            discovery = [h for h in http if h["path"] == "/gateway/bot"]
            assert discovery and discovery[0]["authorization"].startswith("QQBot ")
            assert discovery[0]["appid"] == "102000000"

        checks.run("every shard identifies once with its [i, n], at most 2 per 5 s", check_identifies)

        def send_fixtures_with_a_malformed_frame_between():
            sent.extend(sim.post("/_sim/fixtures", {"shard": 1})["sent"])
            sim.post("/_sim/fault", {"shard": 1, "kind": "malformed"})
            sim.post("/_sim/fault", {"shard": 1, "kind": "raw", "text": '{"op":99,"d":null}'})
            sim.post("/_sim/fault", {"shard": 1, "kind": "raw", "text": '{"d":{}}'})
            sent.extend(sim.post("/_sim/fixtures", {"shard": 1})["sent"])
            sent.extend(sim.post("/_sim/fixtures", {"shard": 3})["sent"])
            fixture_count = len([f for f in os.listdir(FIXTURES) if f.endswith(".json")])
            assert len(sent) >= 3 * 30 and len(sent) <= 3 * fixture_count, len(sent)
            wanted = {e["frame"].encode() for e in sent}
            wait_for(lambda: wanted <= {body for _, body, _ in subscriber.events()}, 20,
                     "every fixture event at the subscriber")

        checks.run("fixture events are sent, with bad frames in the middle", send_fixtures_with_a_malformed_frame_between)

        def check_events_byte_identical():
            state = {s["shard"]: s["session_id"] for s in sim.get("/_sim/state")["shards"]}
            received = {body: (topic, meta) for topic, body, meta in subscriber.events()}
            for event in sent:
                frame = event["frame"].encode()
                topic, meta = received[frame]
                decoded = json.loads(frame)
                assert topic == decoded["t"], (topic, decoded["t"])
                assert meta["v"] == 2 and meta["app_id"] == "102000000" and meta["source"] == "gateway"
                # Contract 2 appends the relay's node (the host name until cluster.node is configured).
                assert list(meta) == ["v", "app_id", "source", "shard", "session_id", "seq", "event_id", "relay_seq",
                                      "received_at_us", "node"], list(meta)
                assert meta["node"] == socket.gethostname(), meta
                assert meta["shard"] == [event["shard"], SHARDS], meta
                assert meta["session_id"] == state[event["shard"]], meta
                assert meta["seq"] == decoded["s"] == event["s"], meta
                assert meta["event_id"] == decoded["id"], meta
                assert isinstance(meta["received_at_us"], int) and meta["received_at_us"] > 1.7e15
            # Chinese text and ids above 2^53 survive untouched.
            bodies = b"".join(e["frame"].encode() for e in sent)
            assert "群".encode() in bodies or "频道".encode() in bodies
            assert b"144115218182563108" in bodies

        checks.run("every fixture event arrives byte-identical with topic and metadata", check_events_byte_identical)

        def check_ready_and_relay_seq():
            events = subscriber.events()
            # PUB/SUB joins asynchronously, so the very first messages may precede the subscription; from the
            # first one received, relay_seq has no gap.
            seqs = [meta["relay_seq"] for _, _, meta in events]
            assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs[:20]
            # Two shards wait a pacer window (5 s) before they identify, long after the subscriber joined.
            identifies = [(r["at_us"], json.loads(r["frame"])["d"]["shard"][0]) for r in sim.get("/_sim/log")["received"]
                          if json.loads(r["frame"]).get("op") == 2]
            first = min(t for t, _ in identifies)
            late = {shard for t, shard in identifies if t - first > 4_000_000}
            assert len(late) == 2, identifies
            ready = [meta["shard"][0] for topic, _, meta in events if topic == "READY"]
            assert late <= set(ready), (late, ready)
            states = [json.loads(body) for topic, body, meta in events if topic == "relay.shard"]
            assert late <= {s["shard"][0] for s in states if s["state"] == "ready"}, states
            assert all(meta["source"] == "relay" for topic, _, meta in events if topic == "relay.shard")

        checks.run("READY is published per shard; relay_seq counts every message from 1", check_ready_and_relay_seq)

        def check_bad_frames_changed_nothing():
            log = sim.get("/_sim/log")
            assert len(log["connects"]) == SHARDS, log["connects"]
            assert not log["closes"], log["closes"]
            assert "not published, not one valid JSON document" in relay.log_text()

        checks.run("bad frames are logged and change nothing else", check_bad_frames_changed_nothing)

        def check_heartbeats():
            last_s = max(e["s"] for e in sent if e["shard"] == 1)
            conn = next(s["conn"] for s in sim.get("/_sim/state")["shards"] if s["shard"] == 1)

            def beats():
                return [(r["at_us"], json.loads(r["frame"])["d"]) for r in sim.get("/_sim/log")["received"]
                        if r["conn"] == conn and json.loads(r["frame"]).get("op") == 1]

            before = len(beats())
            wait_for(lambda: len(beats()) >= before + 2, 5, "two more heartbeats")
            series = beats()
            assert series[-1][1] == last_s, (series[-1], last_s)
            gaps = [(b[0] - a[0]) / 1000 for a, b in zip(series, series[1:])]
            for gap in gaps:
                assert abs(gap - HEARTBEAT_MS) < 250, gaps
            assert series[0][1] is None or isinstance(series[0][1], int)

        checks.run("heartbeats come at the Hello interval carrying the last s", check_heartbeats)

        def check_sighup_keeps_every_connection():

            with open(relay.config_path) as f:
                text = f.read()
            with open(relay.config_path, "w") as f:
                f.write(text.replace('level = "debug"', 'level = "info"'))
            relay.proc.send_signal(signal.SIGHUP)
            wait_for(lambda: "configuration reloaded: log.level" in relay.log_text(), 5, "the reload")
            with open(relay.config_path, "w") as f:
                f.write(text + "\n[nonsense]\n")
            relay.proc.send_signal(signal.SIGHUP)
            wait_for(lambda: "configuration is not valid, nothing changed" in relay.log_text(), 5, "the rejected reload")
            for shard in range(SHARDS):  # a probe through every shard: still relaying after the rejected reload
                subscriber.sync(sim, shard)
            assert relay.proc.poll() is None
            assert not sim.get("/_sim/log")["closes"]

        checks.run("SIGHUP applies log.level, rejects a bad file, drops no connection",
                   check_sighup_keeps_every_connection)

        def check_sigterm():
            before = len(subscriber.snapshot())
            code = relay.stop(timeout=5)
            assert code == 0, code
            closes = wait_for(lambda: len(sim.get("/_sim/log")["closes"]) >= SHARDS and sim.get("/_sim/log")["closes"],
                              5, "the sockets to close")
            assert all(c["code"] not in (1000, 1001) for c in closes), closes
            # What subscribers learn of the stop (docs/subscribing.md): one last `disconnected` per shard, which
            # the next start resumes. They were sent before the relay exited; the subscriber's thread may still be
            # taking them in.
            def after_stop():
                return [(topic, json.loads(body), meta) for topic, body, meta in subscriber.events()[before:]]
            wait_for(lambda: len(after_stop()) >= SHARDS, 5, "a message per shard after SIGTERM")
            after = after_stop()
            assert all(topic == "relay.shard" for topic, _, _ in after), after
            assert sorted(body["shard"][0] for _, body, _ in after) == list(range(SHARDS)), after
            for _, body, meta in after:
                assert body["state"] == "disconnected" and body["close_code"] == 0, body
                assert body["reason"] == "relay shutting down" and body["will_resume"] is True, body
                assert body["session_id"] and meta["source"] == "relay", (body, meta)

        checks.run("SIGTERM exits 0, keeps the sessions (no 1000/1001), and says so to subscribers", check_sigterm)
    finally:
        tear_down(checks, tmp, relay, subscriber, sim)
    checks.finish()


if __name__ == "__main__":
    main()
