#!/usr/bin/python3
"""The process-wide identify pacer under reconnect storms: 6 shards, max_concurrency 2, simulator and relay.

SPEC section 10: at most max_concurrency Identifies per 5 s for the whole process (first starts and
reconnects alike), Resumes are never held back, and session_start_limit.remaining/reset_after are respected so
that a storm cannot burn the daily quota. The relay runs with a 1.5 s window (gateway.identify_window_ms) instead
of its 5.25 s default, so that the pacing shows in seconds; the simulator does not pace, it only records when
each frame arrived, and the checks below measure the spacing against the configured window.
"""
import json
import os
import time

from harness import Checks, Relay, Sim, relay_config, wait_for, workdir, expect, tear_down

SHARDS = 6
MAX_CONCURRENCY = 2
WINDOW_MS = 1_500  # gateway.identify_window_ms for every relay here
# The windows are checked on the simulator's receive times, which differ from the relay's send times by a few
# hundred microseconds either way: a window 100 ms short of the pacer's keeps the check off that knife edge and
# still fails unpaced identifies (those come within milliseconds of each other).
WINDOW_US = (WINDOW_MS - 100) * 1000
# 6 starts + 6 re-identifies leave 1: the third storm must stop at 1 identify and queue the other 5. (Not 2, so
# that the quota, not the 2-per-window limit, is what holds the shards back.)
REMAINING = 13
RESET_AFTER_MS = 2_000  # for the restarted relay that finds the quota short


def config(sim, endpoint, state_dir):
    return relay_config(sim, endpoint, state_dir, extra_gateway=f"identify_window_ms = {WINDOW_MS}")


def now_us():
    return time.time_ns() // 1000


def frames(sim, op, since_us=0):
    """(at_us, d, conn) of every frame with this op the clients sent at or after since_us."""
    out = []
    for entry in sim.get("/_sim/log")["received"]:
        frame = json.loads(entry["frame"])
        if frame.get("op") == op and entry["at_us"] >= since_us:
            out.append((entry["at_us"], frame["d"], entry["conn"]))
    return out


def identified_shards(identifies):
    return sorted(tuple(d["shard"]) for _, d, _ in identifies)


def expect_paced(identifies, limit=MAX_CONCURRENCY):
    times = sorted(t for t, _, _ in identifies)
    for i, start in enumerate(times):
        in_window = [t for t in times[i:] if t - start < WINDOW_US]
        expect(len(in_window) <= limit,
               f"{len(in_window)} identifies within {WINDOW_US // 1000} ms (limit {limit}): "
               f"{[(t - times[0]) / 1e6 for t in times]}")


def most_in_one_window(times):
    times = sorted(times)
    return max(len([t for t in times[i:] if t - start < WINDOW_US]) for i, start in enumerate(times))


def ready_shards(sim, count=SHARDS):
    """Shard indexes whose current session is READY (or RESUMED) on a live connection of this layout."""
    state = sim.get("/_sim/state")
    live = {c["id"] for c in state["connections"] if c["attached"] and not c["closing"]
            and c["shard"] and c["shard"][1] == count}
    return sorted(s["shard"] for s in state["shards"] if s["connected"] and s["session_id"] and s["conn"] in live
                  and not s["invalid"])


def all_ready(sim):
    return ready_shards(sim) == list(range(SHARDS))


def main():
    checks = Checks()
    tmp = workdir()
    endpoint = f"ipc://{tmp}/relay.sock"
    sim = Sim(tmp, "--shards", str(SHARDS), "--max-concurrency", str(MAX_CONCURRENCY), "--heartbeat-interval",
              "2000", "--remaining", str(REMAINING))
    relay = Relay(tmp, config(sim, endpoint, f"{tmp}/state"))
    second = None
    extra = []
    try:
        def first_start():
            wait_for(lambda: all_ready(sim), 45, "all 6 shards READY")
            identifies = frames(sim, 2)
            expect(identified_shards(identifies) == [(i, SHARDS) for i in range(SHARDS)],
                   f"identifies: {identified_shards(identifies)}")
            expect_paced(identifies)
            expect(not frames(sim, 6), "a Resume on a fresh start")
            state = sim.get("/_sim/state")
            expect(state["identifies"] == SHARDS and state["remaining"] == REMAINING - SHARDS,
                   f"identifies {state['identifies']}, remaining {state['remaining']}")
            # The pacer really held shards back: 6 shards at 2 per window need two full windows.
            times = sorted(t for t, _, _ in identifies)
            expect(times[-1] - times[0] >= 2 * WINDOW_US, f"span {(times[-1] - times[0]) / 1e6} s")

        checks.run("first start: 6 shards identify once each, never more than 2 per window", first_start)

        def identify_storm():
            before = sim.get("/_sim/state")
            old_sessions = {s["shard"]: s["session_id"] for s in before["shards"]}
            storm_us = now_us()
            applied = sim.post("/_sim/fault", {"kind": "invalid_session", "d": False})["applied"]
            expect(sorted(a["shard"] for a in applied) == list(range(SHARDS)), f"applied to {applied}")

            def renewed():
                return all_ready(sim) and all(s["session_id"] != old_sessions[s["shard"]]
                                              for s in sim.get("/_sim/state")["shards"])

            wait_for(renewed, 45, "every shard READY on a new session")
            storm = frames(sim, 2, storm_us)
            expect(identified_shards(storm) == [(i, SHARDS) for i in range(SHARDS)],
                   f"re-identifies: {identified_shards(storm)}")
            expect(not frames(sim, 6, storm_us), "a Resume of an invalidated session")
            # The pacer is process-wide: the window holds across the first start and the storm.
            expect_paced(frames(sim, 2))
            # op 9 asks for a pause before the new Identify (invalid_session_pause, 3 s).
            first = min(t for t, _, _ in storm)
            expect(first - storm_us >= 2_500_000, f"first re-identify {(first - storm_us) / 1e6} s after op 9")
            after = sim.get("/_sim/state")
            expect(after["remaining"] == REMAINING - 2 * SHARDS,
                   f"remaining {after['remaining']}, wanted {REMAINING - 2 * SHARDS}: a session start was wasted")
            expect(after["identifies"] == 2 * SHARDS, f"identifies {after['identifies']}")

        checks.run("identify storm: op 9 on every shard, each re-identifies once, still 2 per window, quota -12",
                   identify_storm)

        def resume_storm():
            before = sim.get("/_sim/state")
            sessions = {s["session_id"]: s["shard"] for s in before["shards"]}
            drop_us = now_us()
            applied = sim.post("/_sim/fault", {"kind": "drop", "immediate": True})["applied"]
            expect(sorted(a["shard"] for a in applied) == list(range(SHARDS)), f"applied to {applied}")
            wait_for(lambda: len(frames(sim, 6, drop_us)) >= SHARDS and all_ready(sim), 20,
                     "6 Resumes and every shard back")
            resumes = frames(sim, 6, drop_us)
            expect(sorted(sessions.get(d["session_id"], -1) for _, d, _ in resumes) == list(range(SHARDS)),
                   f"resumed sessions: {[d['session_id'] for _, d, _ in resumes]}")
            expect(not frames(sim, 2, drop_us), "an Identify after a plain network drop")
            # The reconnect backoff is full jitter under 2 s here (the second reconnect within stable_after), so
            # 4.5 s is plenty. Paced like Identifies, 6 Resumes would need 3 windows, 2 in each; not paced, all 6
            # arrive within 2 s, less than two measured windows (2.8 s), and one window holds at least 3 of them.
            late = max(t for t, _, _ in resumes) - drop_us
            expect(late < 4_500_000, f"last Resume {late / 1e6:.2f} s after the drop: resumes were held back")
            crowded = most_in_one_window([t for t, _, _ in resumes])
            expect(crowded > MAX_CONCURRENCY,
                   f"at most {crowded} Resumes in any {WINDOW_US // 1000} ms: resumes were paced like Identifies")
            after = sim.get("/_sim/state")
            expect({s["shard"]: s["session_id"] for s in after["shards"]} ==
                   {s["shard"]: s["session_id"] for s in before["shards"]}, "a session changed")
            expect(after["remaining"] == before["remaining"], "a Resume spent a session start")
            expect(after["resumes"] == before["resumes"] + SHARDS, f"resumes {after['resumes']}")

        checks.run("resume storm: a drop of every connection resumes all 6 at once, no Identify", resume_storm)

        def storm_within_quota():
            # The relay learned remaining=13 at start and has spent 12: a third storm may start only 1 session.
            storm_us = now_us()
            sim.post("/_sim/fault", {"kind": "invalid_session", "d": False})
            wait_for(lambda: "5 shard(s) wait for the daily session quota to reset" in relay.log_text(), 30,
                     "5 shards queued for the daily quota")
            identifies = frames(sim, 2, storm_us)
            expect(len(identifies) == 1, f"{len(identifies)} identifies with 1 session start left")
            state = sim.get("/_sim/state")
            expect(state["remaining"] == 0, f"remaining {state['remaining']}")
            expect(len(ready_shards(sim)) == 1, f"ready: {ready_shards(sim)}")
            # The 5 others hold their connections (heartbeating) and do not retry with Resume or Identify.
            expect(not frames(sim, 6, storm_us), "a Resume of an invalidated session")
            expect(relay.proc.poll() is None, "the relay exited")

        checks.run("a third storm with 1 session start left identifies 1 shard and queues 5",
                   storm_within_quota)

        def short_quota_at_start():
            nonlocal second
            code = relay.stop(10)
            expect(code == 0, f"exit code {code}")
            # A larger max_concurrency, which the new process must take from /gateway/bot.
            sim.post("/_sim/config", {"remaining": 3, "reset_after": RESET_AFTER_MS, "max_concurrency": 3})
            start_us = now_us()
            os.makedirs(f"{tmp}/second")
            # A fresh state directory, so that the new process has no sessions to resume.
            second = Relay(f"{tmp}/second",
                           config(sim, f"ipc://{tmp}/second/relay.sock", f"{tmp}/second/state"))
            wait_for(lambda: "session starts today" in second.log_text(), 20, "the quota message")
            expect(f"allows 3 more session starts today but {SHARDS} shards need one each; "
                   f"waiting {RESET_AFTER_MS // 1000} s" in second.log_text(), second.log_text())
            # The sim never refills on its own: play the platform's reset while the relay waits.
            refill_us = now_us()
            sim.post("/_sim/config", {"remaining": 1000})
            wait_for(lambda: all_ready(sim), 45, "all 6 shards READY after the quota reset")
            discoveries = [h["at_us"] for h in sim.get("/_sim/log")["http"]
                           if h["path"] == "/gateway/bot" and h["at_us"] >= start_us]
            expect(len(discoveries) == 2, f"{len(discoveries)} GET /gateway/bot, wanted 2")
            gap = discoveries[1] - discoveries[0]
            expect(gap >= RESET_AFTER_MS * 1000, f"asked /gateway/bot again after {gap / 1e6} s")
            identifies = frames(sim, 2, start_us)
            expect(identified_shards(identifies) == [(i, SHARDS) for i in range(SHARDS)],
                   f"identifies: {identified_shards(identifies)}")
            first = min(t for t, _, _ in identifies)
            expect(first >= refill_us and first >= discoveries[1],
                   "an Identify while remaining was below the shard count")
            expect(first - discoveries[0] >= RESET_AFTER_MS * 1000,
                   f"first Identify {(first - discoveries[0]) / 1e6} s after the short quota")
            connects = [c["at_us"] for c in sim.get("/_sim/log")["connects"] if c["at_us"] >= start_us]
            expect(min(connects) >= discoveries[1], "a shard connected before the second /gateway/bot")
            expect_paced(identifies, limit=3)
            times = sorted(t for t, _, _ in identifies)
            expect(times[-1] - times[0] >= WINDOW_US,
                   f"span {(times[-1] - times[0]) / 1e6} s: 6 shards, 3 per window")

        checks.run("a restarted relay that finds remaining < shards waits reset_after, then starts all 6, 3 per window",
                   short_quota_at_start)
        checks.run("SIGTERM exits 0", lambda: expect(second is not None and second.stop(10) == 0, "exit code"))

        def quota_reset_is_asked_for():
            # A quota spent by the first start resets after 1.5 s. A later storm must not assume the new day's
            # figure: the relay asks /gateway/bot again and identifies only as many shards as it allows.
            os.makedirs(f"{tmp}/third")
            extra.append(Sim(f"{tmp}/third", "--shards", "2", "--max-concurrency", "2", "--heartbeat-interval",
                             "2000", "--remaining", "2", "--reset-after", "1500"))
            small = extra[-1]
            extra.append(Relay(f"{tmp}/third",
                               config(small, f"ipc://{tmp}/third/relay.sock", f"{tmp}/third/state")))
            wait_for(lambda: ready_shards(small, 2) == [0, 1], 30, "both shards READY")
            # The scenario itself, not a wait for a result: the relay's own reset_after timer (1.5 s from its
            # /gateway/bot answer) must run out, and nothing outside the relay shows when it has.
            time.sleep(2.0)
            small.post("/_sim/config", {"remaining": 1})  # the new day allows one start
            storm_us = now_us()
            small.post("/_sim/fault", {"kind": "invalid_session", "d": False})
            wait_for(lambda: len(frames(small, 2, storm_us)) == 1, 20, "one Identify")
            wait_for(lambda: "1 shard(s) wait for the daily session quota to reset" in extra[-1].log_text(), 20,
                     "the second shard queued for the quota")
            asked = [h for h in small.get("/_sim/log")["http"]
                     if h["path"] == "/gateway/bot" and h["at_us"] >= storm_us]
            expect(len(asked) == 1, f"{len(asked)} GET /gateway/bot after the reset")
            expect(asked[0]["at_us"] <= frames(small, 2, storm_us)[0][0], "identified before asking")
            expect(len(frames(small, 2, storm_us)) == 1, "more identifies than the new quota allows")
        checks.run("after the quota resets, the relay asks /gateway/bot before identifying again",
                   quota_reset_is_asked_for)
    finally:
        tear_down(checks, tmp, *extra, *(p for p in (second, relay, sim) if p))
    checks.finish()


if __name__ == "__main__":
    main()
