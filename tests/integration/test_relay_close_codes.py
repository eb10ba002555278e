#!/usr/bin/python3
"""One check per row of the relay's close-code table (daemon/gateway/close_codes.cpp), against real processes.

Each code gets its own simulator and its own relay (in a sub-directory of the work directory): the relay's
reconnect backoff grows with every failure and only resets after 60 s of stable connection, so codes must not
share a relay. The scenarios are independent, so they run on a small thread pool (QQ_CLOSE_CODES_JOBS, default 4)
and are reported in table order.

The relay's decision is read from the simulator's log: the first authentication frame received after the close
is op 6 (Resume) or op 2 (Identify). Fatal codes are read from the relay's exit status and its log.
4011 (reshard) is covered by test_relay_reshard.py.
"""
import concurrent.futures
import json
import os
import re
import threading
import time

from harness import Checks, Relay, Sim, relay_config, wait_for, workdir, expect, tear_down

WAIT = 25                      # generous: the suite also runs under AddressSanitizer on a loaded machine
FIRST_BACKOFF_LIMIT = 2.5      # full jitter on the first failure is at most 1 s; the rest is slack for load
RATE_LIMIT_PAUSE_MIN = 9.5     # 4008 pauses at least 10 s
CONFIGURED_INTENTS = {"GUILDS", "PUBLIC_GUILD_MESSAGES", "GROUP_AND_C2C_EVENT"}  # relay_config's intents
CONFIGURED_INTENTS_MASK = (1 << 0) | (1 << 30) | (1 << 25)  # 1107296257

# code -> (exit status, meaning, remedy), as in close_codes.cpp.
FATAL = {
    4010: (78, "invalid shard", "check gateway.shards"),
    4012: (1, "invalid version", "upgrade qq-gateway-relay"),
    4013: (78, "invalid intent", "fix bot.intents: remove the intents the platform does not know"),
    4014: (78, "intent not permitted",
           "fix bot.intents: remove the intents this bot has not been granted, or apply for them"),
    4914: (77, "bot is delisted; only the sandbox may connect",
           "relist the bot, or point gateway.api_base at the sandbox"),
    4915: (77, "bot is banned", "contact the platform"),
}


def now_us():
    return int(time.time() * 1_000_000)  # the simulator stamps its log with unix microseconds too


def frames(log):
    return [(r["at_us"], r["conn"], json.loads(r["frame"])) for r in log["received"]]


def auth_frames_after(log, after_us):
    """Identify (op 2) and Resume (op 6) frames received after after_us, oldest first."""
    return [(at, conn, f) for at, conn, f in frames(log) if at > after_us and f.get("op") in (2, 6)]


class Scenario:
    """One simulator and one relay in their own directory, with the relay READY on shard 0/1."""

    def __init__(self, root, name, registry):
        self.dir = os.path.join(root, name)
        os.makedirs(self.dir)
        # max_concurrency 2: a second Identify is not held back by the 5 s identify window, so the time to the
        # new Identify is the relay's reconnect backoff alone.
        self.sim = Sim(self.dir, "--heartbeat-interval", "2000", "--max-concurrency", "2")
        registry.add(self.sim)
        self.relay = Relay(self.dir, relay_config(self.sim, f"ipc://{self.dir}/relay.sock", f"{self.dir}/state"))
        registry.add(self.relay)
        self.session_id, self.token = wait_for(self.ready_session, WAIT, "shard 0/1 READY")
        expect(self.relay.proc.poll() is None, "the relay exited before the fault")

    def ready_session(self):
        state = self.sim.get("/_sim/state")
        live = [c for c in state["connections"]
                if c["shard"] == [0, 1] and c["session_id"] and c["attached"] and not c["closing"]]
        if len(live) != 1:
            return None
        identify = [f for _, _, f in frames(self.sim.get("/_sim/log")) if f.get("op") == 2]
        return live[0]["session_id"], identify[0]["d"]["token"]

    def fault(self, body):
        """Injects a fault on shard 0 and returns the time just before it, in unix microseconds."""
        before = now_us()
        applied = self.sim.post("/_sim/fault", {"shard": 0, **body})["applied"]
        expect(len(applied) == 1, f"the fault reached {applied}")
        return before

    def close_with(self, code):
        return self.fault({"kind": "close", "code": code, "reason": f"close-codes test {code}"})

    def server_close_us(self, code):
        closes = [c["at_us"] for c in self.sim.get("/_sim/log")["closes"] if c["server_code"] == code]
        expect(len(closes) == 1, f"the simulator logged {len(closes)} closes with {code}")
        return closes[0]

    def first_auth_after(self, after_us):
        return wait_for(lambda: auth_frames_after(self.sim.get("/_sim/log"), after_us), WAIT,
                        "an Identify or Resume after the close")[0]

    def send_event(self):
        """One dispatch (s = 2) queued ahead of the fault, so a Resume must carry seq 2."""
        sent = self.sim.post("/_sim/send", {"shard": 0, "t": "AT_MESSAGE_CREATE", "d": {"content": "x"}})["sent"]
        expect(sent[0]["s"] == 2 and sent[0]["connected"], f"the probe event: {sent}")

    def close(self):
        self.relay.close()
        self.sim.stop()


class Registry:
    """Every process started, so that tear_down reaches the ones a failed scenario left running."""

    def __init__(self):
        self.parts = []
        self.lock = threading.Lock()

    def add(self, part):
        with self.lock:
            self.parts.append(part)


def run_scenario(root, registry, name, body):
    started = time.monotonic()
    s = None
    try:
        s = Scenario(root, name, registry)
        body(s)
        return time.monotonic() - started
    except Exception as error:
        tail = ""
        if s is not None:
            tail = "\n    relay log tail:\n      " + "\n      ".join(s.relay.log_text().splitlines()[-8:])
        raise AssertionError(f"{error}{tail}") from error
    finally:
        if s is not None:
            s.close()


# ---- the checks ---------------------------------------------------------------------------------------------

def expect_resume(s, fault_us, limit=FIRST_BACKOFF_LIMIT):
    """The first authentication after the fault is a Resume of the same session at seq 2, within limit s."""
    at, conn, frame = s.first_auth_after(fault_us)
    expect(frame["op"] == 6, f"expected a Resume (op 6), got {frame}")
    expect(frame["d"]["session_id"] == s.session_id, f"resumed {frame['d']['session_id']}, not {s.session_id}")
    expect(frame["d"]["seq"] == 2, f"Resume seq {frame['d']['seq']}, expected 2 (READY and one event)")
    gap = (at - fault_us) / 1e6
    expect(gap <= limit, f"resumed {gap:.2f} s after the close, expected within {limit} s")
    wait_for(lambda: s.sim.get("/_sim/state")["resumes"] == 1, WAIT, "the simulator to accept the Resume")
    state = s.sim.get("/_sim/state")
    expect(state["identifies"] == 1, f"{state['identifies']} identifies, expected only the first")
    expect(s.relay.proc.poll() is None, f"the relay exited with {s.relay.proc.poll()}")
    return at


def resume_on_close(code):
    def body(s):
        s.send_event()
        expect_resume(s, s.close_with(code))
    return body


def resume_on_drop(s):
    s.send_event()
    expect_resume(s, s.fault({"kind": "drop", "immediate": True}))


def resume_after_pause_on_4008(s):
    s.send_event()
    fault_us = s.close_with(4008)
    at, conn, frame = s.first_auth_after(fault_us)
    expect(frame["op"] == 6, f"expected a Resume (op 6), got {frame}")
    expect(frame["d"]["session_id"] == s.session_id and frame["d"]["seq"] == 2, f"Resume {frame}")
    gap = (at - s.server_close_us(4008)) / 1e6
    expect(gap >= RATE_LIMIT_PAUSE_MIN, f"resumed {gap:.2f} s after 4008, expected a pause of 10 s")
    connects = [c for c in s.sim.get("/_sim/log")["connects"] if c["at_us"] > fault_us]
    expect(len(connects) == 1 and connects[0]["conn"] == conn,
           f"expected one connection during the pause, got {connects}")
    wait_for(lambda: s.sim.get("/_sim/state")["resumes"] == 1, WAIT, "the simulator to accept the Resume")
    expect(s.relay.proc.poll() is None, "the relay exited")


def identify_on_close(code):
    def body(s):
        fault_us = s.close_with(code)
        at, conn, frame = s.first_auth_after(fault_us)
        expect(frame["op"] == 2, f"expected a new session (op 2 Identify), got {frame}")
        expect(frame["d"]["shard"] == [0, 1], f"Identify shard {frame['d']['shard']}")
        gap = (at - fault_us) / 1e6
        expect(gap <= FIRST_BACKOFF_LIMIT, f"identified {gap:.2f} s after the close, expected within "
                                           f"{FIRST_BACKOFF_LIMIT} s (first backoff is at most 1 s)")
        new_id, _ = wait_for(lambda: (r := s.ready_session()) and r[0] != s.session_id and r, WAIT,
                             "a new session READY")
        log = s.sim.get("/_sim/log")
        ops = [f["op"] for _, _, f in auth_frames_after(log, fault_us)]
        expect(ops == [2], f"authentication frames after the close: {ops}, expected one Identify")
        state = s.sim.get("/_sim/state")
        expect(state["identifies"] == 2 and state["resumes"] == 0,
               f"identifies {state['identifies']}, resumes {state['resumes']}")
        expect(s.relay.proc.poll() is None, "the relay exited")
    return body


def refresh_token_on_4004(s):
    # Expire every token first, as a real 4004 would mean: the Resume only succeeds with a freshly fetched one.
    s.sim.post("/_sim/fault", {"kind": "expire_token"})
    s.send_event()
    fault_us = s.close_with(4004)
    at, conn, frame = s.first_auth_after(fault_us)
    http = s.sim.get("/_sim/log")["http"]
    fetches = [h for h in http if h["path"] == "/app/getAppAccessToken" and h["at_us"] > fault_us]
    expect(fetches and fetches[0]["status"] == 200, f"no new access-token request after the close: {http}")
    expect(fetches[0]["at_us"] < at, "the token was fetched after the Resume was sent")
    expect(frame["op"] == 6, f"expected a Resume (op 6) with a new token, got {frame}")
    expect(frame["d"]["session_id"] == s.session_id and frame["d"]["seq"] == 2, f"Resume {frame}")
    expect(frame["d"]["token"].startswith("QQBot ") and frame["d"]["token"] != s.token,
           "the Resume carries the old (expired) token")
    wait_for(lambda: s.sim.get("/_sim/state")["resumes"] == 1, WAIT, "the simulator to accept the Resume")
    expect(len([c for c in s.sim.get("/_sim/log")["closes"] if c["server_code"] == 4004]) == 1,
           "the simulator refused the Resume with 4004 again")
    state = s.sim.get("/_sim/state")
    expect(state["identifies"] == 1, f"{state['identifies']} identifies, expected a Resume only")
    expect(s.relay.proc.poll() is None, "the relay exited")


def stop_on_close(code):
    status, meaning, remedy = FATAL[code]

    def body(s):
        fault_us = s.close_with(code)
        try:
            exited = s.relay.proc.wait(WAIT)
        except Exception:
            raise AssertionError(f"the relay is still running {WAIT} s after {code}") from None
        expect(exited == status, f"exit status {exited}, expected {status}")
        log = s.relay.log_text()
        wanted = f"gateway closed with {code} ({meaning}): {remedy}"
        lines = [line for line in log.splitlines()
                 if re.search(r"\s(error|critical)\s", line) and wanted in line]
        expect(len(lines) == 1, f"{len(lines)} error lines with {wanted!r} in the relay log, wanted one")
        if code in (4013, 4014):
            found = re.search(r"configured intents: ([A-Z0-9_|]+) = (\d+)\)", lines[0])
            expect(found, f"no configured intents in {lines[0]!r}")
            names, mask = set(found.group(1).split("|")), int(found.group(2))
            expect(names == CONFIGURED_INTENTS and mask == CONFIGURED_INTENTS_MASK,
                   f"configured intents shown as {found.group(0)!r}")
        log = s.sim.get("/_sim/log")
        connects = [c for c in log["connects"] if c["at_us"] > fault_us]
        expect(not connects, f"the relay reconnected after {code}: {connects}")
        ops = [f["op"] for _, _, f in auth_frames_after(log, fault_us)]
        expect(not ops, f"the relay authenticated again after {code}: {ops}")
    return body


CHECKS = [
    # 4008 first: it takes 10 s, the others run beside it.
    ("4008 resumes after a pause of at least 10 s", "c4008", resume_after_pause_on_4008),
    ("1000 resumes", "c1000", resume_on_close(1000)),
    ("1001 resumes", "c1001", resume_on_close(1001)),
    ("4000 resumes", "c4000", resume_on_close(4000)),
    ("4009 resumes", "c4009", resume_on_close(4009)),
    ("unknown code 4321 resumes", "c4321", resume_on_close(4321)),
    ("TCP drop without close frame (1006) resumes", "drop", resume_on_drop),
    ("4001 identifies a new session", "c4001", identify_on_close(4001)),
    ("4002 identifies a new session", "c4002", identify_on_close(4002)),
    ("4003 identifies a new session", "c4003", identify_on_close(4003)),
    ("4005 identifies a new session", "c4005", identify_on_close(4005)),
    ("4006 identifies a new session", "c4006", identify_on_close(4006)),
    ("4007 identifies a new session", "c4007", identify_on_close(4007)),
    ("4900 identifies a new session", "c4900", identify_on_close(4900)),
    ("4905 identifies a new session", "c4905", identify_on_close(4905)),
    ("4913 identifies a new session", "c4913", identify_on_close(4913)),
    ("4004 fetches a new token and resumes with it", "c4004", refresh_token_on_4004),
    # 4011 (reshard) is covered by test_relay_reshard.py.
    ("4010 stops the relay with status 78", "c4010", stop_on_close(4010)),
    ("4012 stops the relay with status 1", "c4012", stop_on_close(4012)),
    ("4013 stops the relay with status 78 and shows the intents", "c4013", stop_on_close(4013)),
    ("4014 stops the relay with status 78 and shows the intents", "c4014", stop_on_close(4014)),
    ("4914 stops the relay with status 77", "c4914", stop_on_close(4914)),
    ("4915 stops the relay with status 77", "c4915", stop_on_close(4915)),
]


def main():
    checks = Checks()
    tmp = workdir()
    registry = Registry()
    jobs = max(1, int(os.environ.get("QQ_CLOSE_CODES_JOBS", "4")))
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=jobs)
    try:
        futures = [(name, pool.submit(run_scenario, tmp, registry, directory, body))
                   for name, directory, body in CHECKS]
        for name, future in futures:
            checks.run(name, future.result)
        durations = [f"{d} {f.result():.1f}" for (_, f), (_, d, _) in zip(futures, CHECKS) if not f.exception()]
        print("scenario times (s): " + ", ".join(durations), flush=True)
    finally:
        pool.shutdown(wait=True)
        tear_down(checks, tmp, *registry.parts)
    checks.finish()


if __name__ == "__main__":
    main()
