#!/usr/bin/python3
"""What the relay keeps in state.directory, and what it does with a state file it cannot use.

Also the two duplicate filters: the per-session `s` check after a replay, and the process-wide recent event ids.
"""
import json
import os
import signal

from harness import Checks, Relay, Sim, Subscriber, expect, relay_config, tear_down, wait_for, workdir
from metrics_client import get, metrics
from webhook_client import free_port

SHARDS = 2


def main():
    checks = Checks()
    tmp = workdir()
    sim = Sim(tmp, "--shards", str(SHARDS), "--max-concurrency", "2", "--heartbeat-interval", "2000")
    endpoint = f"ipc://{tmp}/relay.sock"
    state_dir = f"{tmp}/state"
    state_file = os.path.join(state_dir, "relay-state.json")
    metrics_port = free_port()  # relays run one at a time, so they can share it
    config = relay_config(sim, endpoint, state_dir) + f'[metrics]\nlisten = "127.0.0.1:{metrics_port}"\n'
    parts = []
    runs = iter(range(100))

    def start_relay(config_text=config):
        sim.post("/_sim/log/clear", {})
        relay = Relay(tmp, config_text, name=f"relay-{next(runs)}")
        parts.append(relay)
        wait_for(lambda: live_shards() == SHARDS, 30, "every shard READY or RESUMED")
        return relay

    def live_shards():
        return sum(1 for c in sim.get("/_sim/state")["connections"]
                   if c["attached"] and not c["closing"] and c["shard"])

    def auth_ops():
        return sorted(json.loads(r["frame"])["op"] for r in sim.get("/_sim/log")["received"]
                      if json.loads(r["frame"])["op"] in (2, 6))

    def read_state():
        with open(state_file) as f:
            return json.load(f)

    def saved_shards():
        try:
            return len(read_state()["shards"])
        except (OSError, ValueError):
            return 0

    try:
        def positions_are_saved_in_batches():
            relay = start_relay()
            expect(auth_ops() == [2, 2], f"a first start identifies: {auth_ops()}")
            sim.post("/_sim/generate", {"count": 3000, "rate": 0})
            wait_for(lambda: all(s["s"] >= 3001 for s in sim.get("/_sim/state")["shards"]), 60, "all generated")
            # Within one save interval (1 s) of the last event, the file holds every shard's position.
            wanted = {s["shard"]: (s["session_id"], s["s"]) for s in sim.get("/_sim/state")["shards"]}

            def saved():
                try:
                    return {e["shard"][0]: (e["session_id"], e["seq"]) for e in read_state()["shards"]}
                except (OSError, ValueError):
                    return None
            wait_for(lambda: saved() == wanted, 5, f"the state file to hold {wanted}")
            expect(oct(os.stat(state_file).st_mode & 0o777) == "0o600", "the state file is readable by others")
            counters = metrics(metrics_port)
            writes = counters[("qq_relay_state_writes_total", 'result="ok"')]
            published = counters[("qq_relay_messages_published_total", "")]
            expect(published > 6000 and writes < 30, f"{writes} state writes for {published} messages")
            expect(relay.stop() == 0, "exit code")
        checks.run("positions are written in batches, not once per event", positions_are_saved_in_batches)

        def a_crash_still_resumes():
            relay = start_relay()
            expect(auth_ops() == [6, 6], f"a restart resumes: {auth_ops()}")
            before = [s["generated"] for s in sim.get("/_sim/state")["shards"]]
            sim.post("/_sim/generate", {"count": 20, "rate": 0})
            wait_for(lambda: [s["generated"] for s in sim.get("/_sim/state")["shards"]] == [n + 20 for n in before],
                     10, "20 more events on every shard")
            wanted = sorted((s["session_id"], s["s"]) for s in sim.get("/_sim/state")["shards"])

            def saved_positions():
                try:
                    return sorted((e["session_id"], e["seq"]) for e in read_state()["shards"])
                except (OSError, ValueError):
                    return None
            # Within a save interval, the file holds exactly what was published: nothing is replayed twice.
            wait_for(lambda: saved_positions() == wanted, 5, f"the state file to hold {wanted}")
            saved = read_state()
            relay.proc.send_signal(signal.SIGKILL)
            relay.proc.wait()
            start_relay()
            resumes = [json.loads(r["frame"])["d"] for r in sim.get("/_sim/log")["received"]
                       if json.loads(r["frame"])["op"] == 6]
            expect(sorted((r["session_id"], r["seq"]) for r in resumes) ==
                   sorted((e["session_id"], e["seq"]) for e in saved["shards"]), f"resumed {resumes}")
        checks.run("after kill -9 the restart resumes the saved sessions", a_crash_still_resumes)

        def a_stop_before_the_shards_start_keeps_them():
            expect(parts[-1].stop() == 0, "exit code")
            saved = read_state()["shards"]
            expect(len(saved) == SHARDS, f"saved {saved}")
            sim.pause()  # the next relay cannot get a token, so its shards never start
            try:
                relay = Relay(tmp, config, name=f"relay-{next(runs)}")
                # /metrics answers once the relay has read its state file and is waiting for a token.
                wait_for(lambda: get(metrics_port, "/metrics")[0] == 200, 10, "the relay's /metrics")
                expect(relay.stop() == 0, "exit code")
            finally:
                sim.resume()
            expect(read_state()["shards"] == saved, f"the saved sessions were lost: {read_state()['shards']}")
            start_relay()
            expect(auth_ops() == [6, 6], f"the sessions were not resumed: {auth_ops()}")
        checks.run("a stop before the shards start keeps the saved sessions", a_stop_before_the_shards_start_keeps_them)

        def rejected_file(content, suffix, why):
            def run():
                parts[-1].stop()
                with open(state_file, "w") as f:
                    f.write(content)
                relay = start_relay()
                expect(auth_ops() == [2, 2], f"{why}: the relay must identify new sessions: {auth_ops()}")
                log = relay.log_text()
                expect(f"ignoring the state file {state_file}" in log, "no warning naming the file")
                expect(why in log, f"the warning does not say '{why}'")
                with open(state_file + suffix) as f:
                    expect(f.read() == content, "the rejected file was not kept aside")
                wait_for(lambda: saved_shards() == SHARDS, 5, "a new state file")
                expect(relay.proc.poll() is None, "the relay stopped")
            return run

        checks.run("a corrupt state file is reported, kept aside and ignored",
                   rejected_file('{"format":"qq-gateway-relay-state","version":1,"app_id":"102000000","rel',
                                 ".bad", "it is corrupt"))
        checks.run("another bot's state file is reported, kept aside and ignored",
                   rejected_file(json.dumps({"format": "qq-gateway-relay-state", "version": 1, "app_id": "42",
                                             "saved_at_us": 1, "relay_seq": 5, "shards": []}),
                                 ".foreign", "written for app_id 42, not 102000000"))

        def another_layout_identifies():
            parts[-1].stop()
            saved = read_state()
            saved["shards"] = [dict(e, shard=[e["shard"][0], 3]) for e in saved["shards"]]
            with open(state_file, "w") as f:
                json.dump(saved, f)
            relay = start_relay()
            expect(auth_ops() == [2, 2], f"identify expected: {auth_ops()}")
            expect("the saved sessions are for 3 shard(s), this run has 2" in relay.log_text(), "no warning")
        checks.run("sessions saved for another shard count are not resumed", another_layout_identifies)

        def unusable_directory_is_not_fatal():
            parts[-1].stop()
            blocker = f"{tmp}/not-a-directory"
            with open(blocker, "w") as f:
                f.write("x")
            relay = start_relay(relay_config(sim, endpoint, f"{blocker}/state") +
                                f'[metrics]\nlisten = "127.0.0.1:{metrics_port}"\n')
            subscriber = Subscriber(endpoint)
            parts.append(subscriber)
            subscriber.sync(sim, 1)
            wait_for(lambda: metrics(metrics_port).get(("qq_relay_state_writes_total", 'result="failed"'), 0) >= 1,
                     10, "a failed state write")
            subscriber.sync(sim, 1)  # still relaying after the failed write
            expect(relay.proc.poll() is None, "the relay stopped")
            log = relay.log_text()
            expect(f"state.directory {blocker}/state" in log, "no error naming the directory")
            expect("cannot save the relay state" in log, "no error about the failed write")
            expect(relay.stop() == 0, "exit code")
        checks.run("an unusable state.directory is reported and the relay keeps relaying",
                   unusable_directory_is_not_fatal)

        def repeats_are_dropped():
            relay = start_relay()
            subscriber = Subscriber(endpoint)
            parts.append(subscriber)
            for shard in range(SHARDS):
                subscriber.sync(sim, shard)
            # The same event id on both shards, and twice on one: published once.
            for shard in (0, 1, 0):
                sim.post("/_sim/fault", {"shard": shard, "kind": "raw",
                                         "text": '{"op":0,"t":"GROUP_AT_MESSAGE_CREATE","id":"dup-1","d":{}}'})
            sim.post("/_sim/fault", {"shard": 1, "kind": "raw",
                                     "text": '{"op":0,"t":"GROUP_AT_MESSAGE_CREATE","id":"other","d":{}}'})
            wait_for(lambda: any(m["event_id"] == "other" for _, _, m in subscriber.events()), 10, "the last event")
            # A resume that replays from further back than asked: what was published is not published again.
            sim.post("/_sim/generate", {"shard": 0, "count": 5, "rate": 0})
            wait_for(lambda: sum(t == "C2C_MESSAGE_CREATE" for t, _, _ in subscriber.events()) == 5, 10, "5 events")
            current = sim.get("/_sim/state")["shards"][0]["s"]
            sim.post("/_sim/fault", {"shard": 0, "kind": "replay_from", "seq": current - 4})
            sim.post("/_sim/fault", {"shard": 0, "kind": "reconnect"})
            wait_for(lambda: any(t == "relay.shard" and b'"resumed"' in body for t, body, _ in subscriber.events()),
                     10, "the resume")
            sim.post("/_sim/send", {"shard": 0, "t": "AFTER", "d": {}})
            wait_for(lambda: any(t == "AFTER" for t, _, _ in subscriber.events()), 10, "the event after the replay")
            events = subscriber.events()
            expect([m["event_id"] for t, _, m in events if t == "GROUP_AT_MESSAGE_CREATE"] == ["dup-1", "other"],
                   "a repeated id was published")
            expect(sum(t == "C2C_MESSAGE_CREATE" for t, _, _ in events) == 5, "the replay was published again")
            counters = metrics(metrics_port)
            by_seq = counters[("qq_relay_duplicates_dropped_total", 'by="seq"')]
            by_id = counters[("qq_relay_duplicates_dropped_total", 'by="event_id"')]
            expect(by_seq >= 4 and by_id == 2, f"repeats not counted: {by_seq} by s, {by_id} by event id")
            expect(relay.stop() == 0, "exit code")
        checks.run("repeats are dropped and counted, by s after a replay and by event id across shards",
                   repeats_are_dropped)
    finally:
        tear_down(checks, tmp, *parts, sim)
    checks.finish()


if __name__ == "__main__":
    main()
