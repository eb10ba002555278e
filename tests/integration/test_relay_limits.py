#!/usr/bin/python3
"""Oversized frames close only their shard's connection, never exhaust memory, and the shard comes back.

The platform replays an unread frame on every resume, so an oversized frame is a poison pill for its session:
after the bounded resume attempts the shard starts a new session (SPEC 6.5: never loop on a dead session)."""
import json

from harness import Checks, Relay, Sim, Subscriber, relay_config, wait_for, workdir, expect, tear_down


def main():
    checks = Checks()
    tmp = workdir()
    endpoint = f"ipc://{tmp}/relay.sock"
    sim = Sim(tmp, "--shards", "2", "--max-concurrency", "2", "--heartbeat-interval", "2000")
    subscriber = Subscriber(endpoint)
    relay = Relay(tmp, relay_config(sim, endpoint, f"{tmp}/state", extra_gateway="max_frame_bytes = 65536"))
    try:
        wait_for(lambda: sum(1 for s in sim.get("/_sim/state")["shards"] if s["connected"] and s["session_id"]) == 2,
                 20, "both shards READY")
        subscriber.sync(sim, shard=1)

        def oversized_frame_closes_that_shard_only_and_it_comes_back():
            before = sim.get("/_sim/state")
            conn0 = next(s["conn"] for s in before["shards"] if s["shard"] == 0)
            # Only what comes after the fault counts: shard 0's first READY must not pass for its return.
            seen_before_fault = len(subscriber.events())
            sim.post("/_sim/fault", {"shard": 0, "kind": "oversized", "bytes": 5_000_000})
            other = sim.post("/_sim/send", {"shard": 1, "t": "C2C_MESSAGE_CREATE", "d": {"content": "other"}})
            wanted = other["sent"][0]["frame"].encode()
            wait_for(lambda: wanted in {body for _, body, _ in subscriber.events()}, 10,
                     f"the other shard's event {wanted} among {[b[:60] for _, b, _ in subscriber.events()]}")

            def shard0_ready_again():
                return any(topic == "relay.shard" and json.loads(body)["shard"] == [0, 2]
                           and json.loads(body)["state"] in ("ready", "resumed")
                           and meta["relay_seq"] > 0 for topic, body, meta in subscriber.events()[seen_before_fault:])
            wait_for(shard0_ready_again, 30, "shard 0 to be ready again")
            after = sim.post("/_sim/send", {"shard": 0, "t": "C2C_MESSAGE_CREATE", "d": {"content": "after"}})
            wanted = after["sent"][0]["frame"].encode()
            wait_for(lambda: wanted in {body for _, body, _ in subscriber.events()}, 10, "shard 0's next event")
            closes = sim.get("/_sim/log")["closes"]
            assert any(c["conn"] == conn0 for c in closes), closes
            conn1 = next(s["conn"] for s in before["shards"] if s["shard"] == 1)
            assert not [c for c in closes if c["conn"] == conn1], closes
            assert not any(len(body) > 65536 for _, body, _ in subscriber.events())
            assert "message larger than gateway.max_frame_bytes" in relay.log_text()

        checks.run("an oversized frame closes that shard only, and the shard comes back",
                   oversized_frame_closes_that_shard_only_and_it_comes_back)

        def relay_state_messages_describe_the_disconnect():
            states = [json.loads(body) for topic, body, _ in subscriber.events() if topic == "relay.shard"]
            disconnected = [s for s in states if s["state"] == "disconnected"]
            assert disconnected and disconnected[0]["close_code"] == 1009 and disconnected[0]["will_resume"], states
            # Bounded: after the resume attempts, a new session instead of a loop.
            assert any(s["state"] == "disconnected" and not s["will_resume"] for s in states), states

        checks.run("relay.shard messages describe the disconnects; resumes are bounded",
                   relay_state_messages_describe_the_disconnect)

        def large_frames_within_the_limit_arrive_whole():
            # Larger than the 16 KiB the relay reads at a time: each arrives in several pieces and is joined.
            wanted = []
            for size in (16_000, 16_384, 40_000, 65_000):
                d = {"content": "x" * (size - 120)}
                sent = sim.post("/_sim/send", {"shard": 1, "t": "C2C_MESSAGE_CREATE", "d": d})
                wanted.append(sent["sent"][0]["frame"].encode())
            wait_for(lambda: all(w in {body for _, body, _ in subscriber.events()} for w in wanted), 10,
                     "the large frames, byte for byte")
            expect(max(len(w) for w in wanted) > 60_000 and max(len(w) for w in wanted) <= 65536, "sizes")

        checks.run("frames up to max_frame_bytes arrive whole and unchanged", large_frames_within_the_limit_arrive_whole)
        checks.run("SIGTERM exits 0", lambda: expect(relay.stop(5) == 0, "exit code"))
    finally:
        tear_down(checks, tmp, relay, subscriber, sim)
    checks.finish()


if __name__ == "__main__":
    main()
