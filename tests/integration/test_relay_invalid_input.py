#!/usr/bin/python3
"""Only well-formed JSON leaves the relay: a gateway frame or a signed webhook body that is not one valid JSON
document in UTF-8 is not published, is counted, logged (at most once per 10 s) and kept in the quarantine; its
s still advances, so a replayed poison frame cannot wedge the shard."""
import base64
import json
import os

from harness import Checks, Relay, Sim, Subscriber, expect, relay_config, tear_down, wait_for, workdir
from metrics_client import metrics
from webhook_client import WebhookClient, free_port

# d values the platform could send broken; each was once republished byte for byte.
BAD_D = [b"tru", b'{"a":nul}', b'{"a":01}', b'{"a":1.}', b'"\\x"', b'"\\ud800"', b'{"a":[1,]}']
# Not UTF-8: the WebSocket client must fail the connection (1007), after passing the frame's s.
NOT_UTF8_D = [b'"\xff"', b'{"a":"\xed\xa0\x80"}']


def strict_json(body):
    """Python's json module accepts lone surrogates and NaN; refuse both here."""
    text = body.decode("utf-8")  # raises on invalid UTF-8

    def no_constants(name):
        raise ValueError(f"not JSON: {name}")
    value = json.loads(text, parse_constant=no_constants)
    json.dumps(value).encode("utf-8")
    for char in text:
        expect(not 0xD800 <= ord(char) <= 0xDFFF, "a surrogate in a string")
    return value


def main():
    checks = Checks()
    tmp = workdir()
    endpoint = f"ipc://{tmp}/relay.sock"
    state = f"{tmp}/state"
    metrics_port = free_port()
    webhook_port = free_port()
    sim = Sim(tmp, "--shards", "2", "--max-concurrency", "2")
    subscriber = Subscriber(endpoint)
    config = relay_config(sim, endpoint, state) + f"""
[metrics]
listen = "127.0.0.1:{metrics_port}"
[webhook]
enabled = true
listen = "127.0.0.1:{webhook_port}"
"""
    relay = Relay(tmp, config)
    webhook = WebhookClient(webhook_port)
    try:
        wait_for(lambda: sum(1 for s in sim.get("/_sim/state")["shards"] if s["connected"] and s["session_id"]) == 2,
                 20, "both shards READY")
        subscriber.sync(sim, shard=0)

        def invalid():
            samples = metrics(metrics_port)
            return (samples.get(("qq_relay_invalid_frames_total", 'source="gateway"'), 0),
                    samples.get(("qq_relay_invalid_frames_total", 'source="webhook"'), 0))

        bad = []

        def bad_dispatches_are_counted_and_never_published():
            for d in BAD_D:
                bad.extend(sim.post("/_sim/fault", {"shard": 0, "kind": "bad_dispatch", "d_hex": d.hex()})["applied"])
            # Trailing bytes after a whole document, and a frame that is not JSON at all.
            sim.post("/_sim/fault", {"shard": 0, "kind": "raw", "text": '{"op":11} {"op":11}'})
            sim.post("/_sim/fault", {"shard": 0, "kind": "raw", "text": '{"op":0,"s":'})
            probe = sim.post("/_sim/send", {"shard": 0, "t": "C2C_MESSAGE_CREATE", "d": {"content": "after"}})
            wanted = probe["sent"][0]["frame"].encode()
            wait_for(lambda: wanted in {body for _, body, _ in subscriber.events()}, 10, "the probe after them")
            wait_for(lambda: invalid()[0] == len(BAD_D) + 2, 10, f"invalid gateway frames counted: {invalid()}")
            topics = [topic for topic, _, _ in subscriber.events()]
            expect("BAD_DISPATCH" not in topics, "a bad dispatch was published")
            for topic, body, _ in subscriber.events():
                strict_json(body)

        checks.run("bad dispatches are counted and never published", bad_dispatches_are_counted_and_never_published)

        def resumes():
            return [json.loads(r["frame"]) for r in sim.get("/_sim/log")["received"]
                    if json.loads(r["frame"]).get("op") == 6]

        def text_that_is_not_utf8_fails_the_connection_after_its_s_is_passed():
            for d in NOT_UTF8_D:
                counted = invalid()[0]
                before = len(resumes())
                applied = sim.post("/_sim/fault", {"shard": 0, "kind": "bad_dispatch", "d_hex": d.hex()})["applied"]
                bad.extend(applied)
                wait_for(lambda: len(resumes()) > before, 20, "a resume after the 1007 close")
                wait_for(lambda: all(s["connected"] and s["session_id"] for s in sim.get("/_sim/state")["shards"]),
                         20, "shard 0 back")
                # The resume starts after the bad frame: the platform will not send it again.
                expect(resumes()[-1]["d"]["seq"] >= applied[0]["s"], (resumes()[-1], applied))
                expect(invalid()[0] == counted + 1, f"counted once: {invalid()} after {counted}")
            states = [s for s in subscriber.shard_states(0) if s["state"] == "disconnected"]
            expect([s["close_code"] for s in states][-2:] == [1007, 1007] and all(s["will_resume"] for s in states[-2:]),
                   states)
            probe = sim.post("/_sim/send", {"shard": 0, "t": "C2C_MESSAGE_CREATE", "d": {"content": "utf8"}})
            wanted = probe["sent"][0]["frame"].encode()
            wait_for(lambda: wanted in {body for _, body, _ in subscriber.events()}, 10, "a probe after them")

        checks.run("a text frame that is not UTF-8 fails the connection (1007) after its s is passed",
                   text_that_is_not_utf8_fails_the_connection_after_its_s_is_passed)

        def the_quarantine_keeps_each_one_byte_for_byte():
            path = os.path.join(state, "quarantine.jsonl")
            records = [json.loads(line) for line in open(path, encoding="utf-8")]
            gateway = [r for r in records if r["source"] == "gateway"]
            expect(len(gateway) == len(BAD_D) + len(NOT_UTF8_D) + 2, f"{len(gateway)} records")
            by_s = {r["s"]: r for r in gateway if r["s"] is not None}
            for applied in bad:
                record = by_s[applied["s"]]
                raw = base64.b64decode(record["base64"])
                expect(record["shard"] == [0, 2] and record["length"] == len(raw) == applied["bytes"], record)
                expect(b'"t":"BAD_DISPATCH"' in raw, raw)
            expect(any(base64.b64decode(r["base64"]) == b'{"op":0,"s":' for r in gateway), "the cut frame")
            expect(os.stat(path).st_mode & 0o777 == 0o600, "mode")

        checks.run("the quarantine keeps each one, byte for byte, with its shard and s",
                   the_quarantine_keeps_each_one_byte_for_byte)

        def one_log_line_for_the_burst():
            lines = [l for l in relay.log_text().splitlines() if "not published, not one valid JSON document" in l]
            expect(len(lines) == 1, lines)
            expect("gateway shard 0/2" in lines[0] and "kept in" in lines[0] and "starts 7b 22" in lines[0], lines[0])

        checks.run("the burst is logged once, with a hex excerpt", one_log_line_for_the_burst)

        def a_replayed_poison_frame_is_passed_again():
            # The next resume replays from before the bad frames: they come back, and the shard goes on.
            sim.post("/_sim/fault", {"shard": 0, "kind": "replay_from", "seq": bad[0]["s"] - 1})
            counted = invalid()[0]
            before = len(resumes())
            sim.post("/_sim/fault", {"shard": 0, "kind": "close", "code": 4009})
            # Replayed: the grammar faults pass quietly; the first UTF-8 fault closes once more (1007), and the
            # resume after it asks from the last s already passed, so nothing is replayed a second time.
            wait_for(lambda: invalid()[0] == counted + len(BAD_D) + 1, 30, "the replayed bad frames")
            wait_for(lambda: all(s["connected"] and s["session_id"] for s in sim.get("/_sim/state")["shards"]),
                     20, "shard 0 back")
            expect(len(resumes()) > before and resumes()[-1]["d"]["seq"] >= bad[-1]["s"],
                   f"resumed from {resumes()[-1:]}")
            probe = sim.post("/_sim/send", {"shard": 0, "t": "C2C_MESSAGE_CREATE", "d": {"content": "later"}})
            wanted = probe["sent"][0]["frame"].encode()
            wait_for(lambda: wanted in {body for _, body, _ in subscriber.events()}, 20, "an event after the replay")
            seqs = [meta["seq"] for topic, _, meta in subscriber.events() if meta["source"] == "gateway"
                    and meta["shard"] == [0, 2]]
            expect(len(seqs) == len(set(seqs)), f"a repeat among {seqs}")
            # Another close: the resume asks from after the bad frames, not before them.
            count = len(resumes())
            sim.post("/_sim/fault", {"shard": 0, "kind": "close", "code": 4009})
            wait_for(lambda: len(resumes()) > count, 20, "another resume")
            expect(resumes()[-1]["d"]["seq"] >= bad[-1]["s"], resumes()[-1])

        checks.run("a replayed poison frame is passed again and the shard goes on",
                   a_replayed_poison_frame_is_passed_again)

        def signed_webhook_bodies_that_are_not_json():
            before = invalid()[1]
            for body in (b'{"op":0,"id":"W:1","t":"X","d":{"a":tru}}', b'{"op":0,"d":{}} trailing', b'{"op":0,"d":"\xff"}'):
                status, _ = webhook.post(body)
                expect(status == 200, f"signed {body!r} answered {status}")
                status, _ = webhook.post(body, headers={"Content-Type": "application/json"})
                expect(status in (400, 401), f"unsigned {body!r} answered {status}")
            wait_for(lambda: invalid()[1] == before + 3, 10, f"invalid webhook bodies counted: {invalid()}")
            probe = sim.post("/_sim/send", {"shard": 1, "t": "C2C_MESSAGE_CREATE", "d": {"content": "still"}})
            wanted = probe["sent"][0]["frame"].encode()
            wait_for(lambda: wanted in {body for _, body, _ in subscriber.events()}, 10, "a probe")
            expect("X" not in [topic for topic, _, _ in subscriber.events()], "a bad webhook body was published")
            records = [json.loads(line) for line in open(os.path.join(state, "quarantine.jsonl"), encoding="utf-8")]
            expect(len([r for r in records if r["source"] == "webhook"]) == 3, "webhook records")

        checks.run("signed webhook bodies that are not JSON are acknowledged, kept, never published",
                   signed_webhook_bodies_that_are_not_json)

        def every_message_is_strict_json():
            for topic, body, meta in subscriber.events():
                strict_json(body)
            expect(all(s["connected"] for s in sim.get("/_sim/state")["shards"]), "a shard is down")

        checks.run("every message on the bus is strict JSON in UTF-8", every_message_is_strict_json)
        checks.run("SIGTERM exits 0", lambda: expect(relay.stop(5) == 0, "exit code"))
    finally:
        tear_down(checks, tmp, relay, subscriber, sim)
    checks.finish()


if __name__ == "__main__":
    main()
