#!/usr/bin/python3
"""A numbered event stream survives every way the gateway drops: each event arrives exactly once, in order per shard.

The simulator generates C2C_MESSAGE_CREATE events whose d.seq_no counts 1, 2, 3... per shard, and keeps
generating into the session's history while the relay is disconnected, the way the platform does. Faults are
injected while events flow: op 7, close 4009, a TCP drop without close frame, a zombie connection (ACKs stop),
close 4004, every access token revoked, access tokens that expire every 20 s, and a SIGTERM plus restart of the
relay. Close 4006 and op 9 end the session, and the platform never replays a dead session, so those faults are
injected between bursts; the check is that the new session carries on with nothing repeated.
"""
import json
import os
import time

from harness import Checks, Relay, Sim, Subscriber, expect, relay_config, tear_down, wait_for, workdir

SHARDS = 2
BURST = 300  # events per burst, generated at 300 per second


def main():
    checks = Checks()
    tmp = workdir()
    sim = Sim(tmp, "--shards", str(SHARDS), "--max-concurrency", "2", "--heartbeat-interval", "1000",
              "--token-ttl", "20")
    endpoint = f"ipc://{tmp}/relay.sock"
    state_dir = f"{tmp}/state"
    config = relay_config(sim, endpoint, state_dir, extra_gateway="", extra_bot="")
    relays = [Relay(tmp, config)]
    subscriber = Subscriber(endpoint)
    expected = {shard: 0 for shard in range(SHARDS)}  # events generated per shard so far

    def generated(shard):
        return sim.get("/_sim/state")["shards"][shard]["generated"]

    def wait_delivered(shard, timeout=40):
        wait_for(lambda: generated(shard) == expected[shard], timeout, f"shard {shard} to generate {expected[shard]}")
        wait_for(lambda: len(subscriber.seq_nos(shard)) >= expected[shard], timeout,
                 f"shard {shard}: {expected[shard]} events at the subscriber (got {len(subscriber.seq_nos(shard))})")

    def burst(shard):
        sim.post("/_sim/generate", {"shard": shard, "count": BURST, "rate": 300, "size": 300})
        expected[shard] += BURST

    def wait_back(shard, states_before, state):
        wait_for(lambda: any(s["state"] == state for s in subscriber.shard_states(shard)[states_before:]), 30,
                 f"shard {shard} {state} again")

    def wait_flowing(shard, count=30):
        """Waits until `count` events of the burst just started have reached the subscriber: it is mid-stream."""
        at_least = expected[shard] - BURST + count
        wait_for(lambda: len(subscriber.seq_nos(shard)) >= at_least, 10, f"shard {shard}: {at_least} events")

    def fault_in_flight(shard, fault, back_as="resumed"):
        """Injects `fault` while a burst is flowing; the relay must come back and lose nothing."""
        def run():
            before = len(subscriber.shard_states(shard))
            burst(shard)
            wait_flowing(shard)
            sim.post("/_sim/fault", dict(fault, shard=shard))
            wait_back(shard, before, back_as)
            wait_delivered(shard)
            expect(subscriber.seq_nos(shard) == list(range(1, expected[shard] + 1)),
                   f"shard {shard}: not exactly once in order: {summarize(subscriber.seq_nos(shard), expected[shard])}")
        return run

    def session_ending_fault(shard, fault):
        """4006 and op 9: the old session is gone; the new one carries on and nothing is repeated."""
        def run():
            wait_delivered(shard)
            before = len(subscriber.shard_states(shard))
            sim.post("/_sim/fault", dict(fault, shard=shard))
            wait_back(shard, before, "ready")
            burst(shard)
            wait_delivered(shard)
            expect(subscriber.seq_nos(shard) == list(range(1, expected[shard] + 1)),
                   f"shard {shard}: {summarize(subscriber.seq_nos(shard), expected[shard])}")
        return run

    try:
        wait_for(lambda: [s["connected"] for s in sim.get("/_sim/state")["shards"]] == [True] * SHARDS, 30,
                 "both shards READY")
        for shard in range(SHARDS):
            subscriber.sync(sim, shard)

        checks.run("op 7 (reconnect) mid-stream", fault_in_flight(0, {"kind": "reconnect"}))
        checks.run("close 4009 mid-stream", fault_in_flight(1, {"kind": "close", "code": 4009}))
        checks.run("TCP drop without a close frame mid-stream",
                   fault_in_flight(0, {"kind": "drop", "immediate": True}))
        checks.run("zombie connection (ACKs stop) mid-stream", fault_in_flight(1, {"kind": "stop_acks"}))
        checks.run("close 4004 (token refused) mid-stream", fault_in_flight(0, {"kind": "close", "code": 4004}))

        def revoked_tokens():
            # Every token dies at once; the relay finds out only when its next Resume is refused with 4004.
            sim.post("/_sim/fault", {"kind": "expire_token"})
            fault_in_flight(1, {"kind": "reconnect"})()
        checks.run("every access token revoked mid-stream", revoked_tokens)

        checks.run("close 4006 between bursts", session_ending_fault(0, {"kind": "close", "code": 4006}))
        checks.run("op 9 between bursts", session_ending_fault(1, {"kind": "invalid_session", "d": False}))

        def sigterm_and_restart():
            for shard in range(SHARDS):
                burst(shard)
            for shard in range(SHARDS):
                wait_flowing(shard)
            started = time.monotonic()
            code = relays[-1].stop(10)
            took = time.monotonic() - started
            expect(code == 0, f"exit code {code}")
            expect(took < 5, f"SIGTERM took {took:.1f} s")
            with open(os.path.join(state_dir, "relay-state.json")) as f:
                saved = json.load(f)
            positions = {entry["shard"][0]: (entry["session_id"], entry["seq"]) for entry in saved["shards"]}

            def last_published():
                last = {}
                for _, _, meta in subscriber.events():
                    if meta["source"] == "gateway" and meta["seq"] is not None:
                        last[meta["shard"][0]] = (meta["session_id"], meta["seq"])
                return last
            # The relay has exited; its last messages may still be on their way to the subscriber.
            try:
                wait_for(lambda: last_published() == positions, 5, "the saved positions to arrive")
            except AssertionError:
                expect(False, f"saved positions {positions} != last published {last_published()}")
            expect(saved["relay_seq"] == max(meta["relay_seq"] for _, _, meta in subscriber.events()),
                   "saved relay_seq is not the last one published")
            sim.post("/_sim/log/clear", {})
            # Events keep going into the sessions' history while the relay is down: a few more per shard,
            # all generated before the relay is back.
            for shard in range(SHARDS):
                sim.post("/_sim/generate", {"shard": shard, "count": 30, "rate": 300, "size": 300})
                expected[shard] += 30
            for shard in range(SHARDS):
                wait_for(lambda: generated(shard) == expected[shard], 10,
                         f"shard {shard} to generate {expected[shard]} while the relay is down")
            # The simulator is frozen while the new relay starts, so that the subscriber has joined the new
            # PUB socket (its second handshake) before anything is published.
            sim.pause()
            try:
                relays.append(Relay(tmp, config, name="relay-restarted"))
                subscriber.wait_handshakes(2, 10)
            finally:
                sim.resume()
            for shard in range(SHARDS):
                wait_delivered(shard)
                expect(subscriber.seq_nos(shard) == list(range(1, expected[shard] + 1)),
                       f"shard {shard}: {summarize(subscriber.seq_nos(shard), expected[shard])}")
            auth = [json.loads(r["frame"]) for r in sim.get("/_sim/log")["received"]
                    if json.loads(r["frame"])["op"] in (2, 6)]
            expect(sorted((a["op"], a["d"].get("session_id"), a["d"].get("seq")) for a in auth)
                   == sorted((6, sid, seq) for sid, seq in positions.values()),
                   f"the restarted relay did not resume the saved positions: {auth}")
        checks.run("SIGTERM and restart mid-stream", sigterm_and_restart)

        def nothing_repeated_anywhere():
            events = subscriber.events()
            ids = [meta["event_id"] for topic, _, meta in events if meta["source"] == "gateway" and meta["event_id"]]
            expect(len(ids) == len(set(ids)), "an event id was published twice")
            relay_seqs = [meta["relay_seq"] for _, _, meta in events]
            expect(relay_seqs == sorted(set(relay_seqs)), "relay_seq is not strictly increasing")
        checks.run("no event id published twice; relay_seq strictly increasing across the restart",
                   nothing_repeated_anywhere)

        def sessions_never_ended_by_the_relay():
            log = sim.get("/_sim/log")
            codes = {c["code"] for c in log["closes"] if c["code"] is not None}
            expect(codes <= {4000}, f"the relay closed with {codes}")
        checks.run("the relay never closes with 1000/1001", sessions_never_ended_by_the_relay)

        def tokens_always_current():
            # Tokens rotate every 10 s and die after 20 s: a Resume or Identify with a stale token would be
            # closed with 4004. Only the two deliberate 4004s above are allowed (before the log was cleared).
            text = relays[0].log_text() + relays[-1].log_text()
            refused = text.count("(code 4004")
            expect(refused == 2, f"{refused} connections closed with 4004")
            expect(text.count("access token obtained") >= 4, "tokens did not rotate")
        checks.run("every Identify and Resume used a current token", tokens_always_current)
    finally:
        tear_down(checks, tmp, subscriber, *relays, sim)
    checks.finish()


def summarize(got, expected_count):
    missing = sorted(set(range(1, expected_count + 1)) - set(got))
    repeated = sorted({n for n in got if got.count(n) > 1})
    out_of_order = [b for a, b in zip(got, got[1:]) if b <= a]
    return (f"{len(got)} received of {expected_count}; missing {missing[:10]}; repeated {repeated[:10]}; "
            f"out of order {out_of_order[:10]}")


if __name__ == "__main__":
    main()
