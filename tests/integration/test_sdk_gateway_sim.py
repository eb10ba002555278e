#!/usr/bin/python3
"""Unmodified SDKs from npm (tests/sdk, pinned in package-lock.json) against the simulator's gateway and OpenAPI,
through the drivers tests/sdk/*_gateway.cjs: each SDK gets its gateway URL, identifies with its own token form,
hands every injected event to the bot exactly once, survives a close 4009 by resuming (the events sent while it
was away included; qq-official-bot sometimes identifies anew instead, which is recorded), sends a passive reply
that the simulator records, and exits 0 on stdin EOF and on SIGTERM. The Identify and Resume tokens, discovery
requests and heartbeats each SDK sent are printed at the end (tests/sdk/README.md). The drivers are the ones the
relay's downstream-gateway tests point at the relay; this proves them against a known-good server.
Environment: QQ_SIM_BIN, QQ_SOURCE_DIR.
"""
import json
import signal
import time

from harness import Checks, Sim, expect, tear_down, wait_for, workdir
from sdk_drivers import CHANNEL, SDKS, Driver, event_d, installed

APP_ID = "102000000"
SECRET = "sim-secret"
BOT_TOKEN = "sim-bot-token-0123"


def inject(sim, t, message_id):
    sent = sim.post("/_sim/send", {"shard": 0, "t": t, "d": event_d(t, message_id, f"probe {message_id}")})["sent"][0]
    return json.loads(sent["frame"])


def connections(sim):
    return sim.get("/_sim/state")["connections"]


def frames_received(sim):
    return [json.loads(e["frame"]) for e in sim.get("/_sim/log")["received"] if e["frame"].startswith("{")]


def start_driver(sim, tmp, sdk, suffix=""):
    secret = SECRET if sdk.credential == "secret" else BOT_TOKEN
    return Driver(tmp, sdk.name + suffix, sdk.script, sim.base, APP_ID, secret, sdk.intents)


def check_sdk(sim, tmp, sdk, findings):
    name, types = sdk.name, sdk.types
    token_prefix = f"Bot {APP_ID}.{BOT_TOKEN}" if sdk.token_scheme == "Bot" else "QQBot "
    sim.post("/_sim/log/clear", {})
    sim.post("/_sim/api/requests/clear", {})
    driver = start_driver(sim, tmp, sdk)
    try:
        driver.wait(lambda line: "ready" in line, 30, "READY")
        wait_for(lambda: any(c["session_id"] for c in connections(sim)), 10, "the session in the simulator")

        # Every subscribed type, each event with its own message id; the frame's id is what SDKs expose.
        frames = {}
        for n, t in enumerate(types):
            frames[f"{name}-a{n}"] = inject(sim, t, f"{name}-a{n}")
        for message_id in frames:
            driver.wait(lambda line, m=message_id: "t" in line and isinstance(line.get("d"), dict)
                        and line["d"].get("id") == m, 15, f"event {message_id}")

        # A passive reply to the guild message through the SDK's own API call.
        first = f"{name}-a0"
        start = len(driver.snapshot())
        driver.command({"reply": {"to": first, "text": f"reply from {name}"}})
        _, result = driver.wait(lambda line: "reply_result" in line or "reply_error" in line, 20, "the reply's result",
                                start)
        expect("reply_result" in result, f"{name}: the reply failed: {result}")
        recorded = [r for r in sim.get("/_sim/api/requests")["requests"] if r["method"] == "POST"
                    and r["path"] == f"/channels/{CHANNEL}/messages"]
        expect(len(recorded) == 1 and recorded[0]["status"] == 200, f"{name}: recorded replies {recorded}")
        body = json.loads(recorded[0]["body"])
        expect(body.get("msg_id") == first and body.get("content") == f"reply from {name}",
               f"{name}: not a passive reply to {first}: {body}")

        # Close 4009; one event while the SDK is away, then two after it is back (the second one is a barrier:
        # a duplicate of the first would arrive before it).
        identified = [f for f in frames_received(sim) if f.get("op") == 2]
        at_close = sim.get("/_sim/state")
        old = {c["id"] for c in at_close["connections"]}
        start = len(driver.snapshot())
        sim.post("/_sim/fault", {"shard": 0, "kind": "close", "code": 4009})
        wait_for(lambda: not old & {c["id"] for c in connections(sim)}, 10, f"{name}: the closed connection gone")
        closed_at = time.monotonic()
        frames[f"{name}-away"] = inject(sim, types[0], f"{name}-away")
        driver.wait(lambda line: "resumed" in line or "ready" in line, 30, "RESUMED or READY after 4009", start)
        back_after = time.monotonic() - closed_at
        for after in ("b0", "b1"):
            frames[f"{name}-{after}"] = inject(sim, types[-1], f"{name}-{after}")
            wait_for(lambda m=f"{name}-{after}": driver.events(m), 20, f"{name}: an event after the reconnection")
        state = sim.get("/_sim/state")
        new_identifies = state["identifies"] - at_close["identifies"]
        new_resumes = state["resumes"] - at_close["resumes"]
        mode = "resume" if not new_identifies else "identify+resume" if new_resumes else "identify"
        if sdk.resume_only:
            expect(mode == "resume", f"{name}: after 4009: {mode}, not a plain Resume")
        if new_identifies:
            # A new session starts after the events of the old one: what was sent while away may be lost.
            away = frames.pop(f"{name}-away")
            expect(len(driver.events(away["d"]["id"])) <= 1, f"{name}: the event sent while away, twice")
        else:
            wait_for(lambda: driver.events(f"{name}-away"), 15, f"{name}: the event sent while it was away")

        # Exactly once, with the frame's id where the SDK exposes it.
        for message_id, frame in frames.items():
            got = driver.events(message_id)
            expect(len(got) == 1, f"{name}: {message_id} handed to the bot {len(got)} times: {got}")
            expect(got[0]["t"] == frame["t"], f"{name}: {message_id} as {got[0]['t']}, sent as {frame['t']}")
            expect(got[0]["id"] in (None, frame["id"]), f"{name}: {message_id} has id {got[0]['id']}, not {frame['id']}")

        # One heartbeat at least, in the SDK's own form (they differ: d or s, sent at once or after an interval).
        wait_for(lambda: any(f.get("op") == 1 for f in frames_received(sim)), 10, f"{name}: a heartbeat")
        sent = frames_received(sim)
        identify = (identified or [f for f in sent if f.get("op") == 2])[0]["d"]
        resumes = [f["d"] for f in sent if f.get("op") == 6]
        expect(identify["token"].startswith(token_prefix), f"{name}: Identify token {identify['token'][:12]}…")
        expect(resumes and resumes[0]["token"].startswith(token_prefix), f"{name}: Resume {resumes}")
        heartbeats = [f for f in sent if f.get("op") == 1]
        http = [(e["method"], e["path"], (e["authorization"] or "").split(" ")[0]) for e in sim.get("/_sim/log")["http"]]
        findings.append(f"{name}: discovery {sorted(set(http))}; Identify shard {identify.get('shard')} token "
                        f"'{token_prefix.split(' ')[0]} …'; heartbeats {[json.dumps(h) for h in heartbeats[:2]]}; "
                        f"after 4009: {mode} (READY or RESUMED in {back_after:.1f} s; Identify +{new_identifies}, "
                        f"Resume +{new_resumes})")

        code = driver.finish()
        expect(code == 0, f"{name}: exit code {code} on stdin EOF")
        expect(driver.snapshot()[-1] == {"exit": "stdin EOF"}, f"{name}: last line {driver.snapshot()[-1]}")
    finally:
        driver.close()


def check_sigterm(sim, tmp):
    for sdk in SDKS:
        name = sdk.name
        driver = start_driver(sim, tmp, sdk, "-sigterm")
        try:
            driver.wait(lambda line: "ready" in line, 30, "READY")
            driver.proc.send_signal(signal.SIGTERM)
            code = driver.proc.wait(15)
            expect(code == 0, f"{name}: exit code {code} on SIGTERM")
            expect(driver.snapshot()[-1] == {"exit": "SIGTERM"}, f"{name}: last line {driver.snapshot()[-1]}")
        finally:
            driver.close()


def main():
    checks = Checks()
    if not installed():
        print("FAIL tests/sdk/node_modules lacks an SDK: run scripts/install-deps.sh (npm ci in tests/sdk)")
        print("0 passed, 1 failed", flush=True)
        raise SystemExit(1)
    tmp = workdir()
    sim = Sim(tmp, "--bot-token", BOT_TOKEN, "--heartbeat-interval", "3000")
    findings = []
    try:
        for sdk in SDKS:
            after_4009 = ("Resume with the missed event" if sdk.resume_only else
                          "Resume (with the missed event) or a new Identify, recorded")
            checks.run(f"{sdk.name}: READY, every event of its intents exactly once, a passive reply recorded, "
                       f"after close 4009 {after_4009}, exit 0 on stdin EOF",
                       lambda sdk=sdk: check_sdk(sim, tmp, sdk, findings))
        checks.run("every driver exits 0 on SIGTERM", lambda: check_sigterm(sim, tmp))
        for line in findings:
            print(line, flush=True)
    finally:
        tear_down(checks, tmp, sim)
    checks.finish()


if __name__ == "__main__":
    main()
