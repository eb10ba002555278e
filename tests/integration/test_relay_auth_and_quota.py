#!/usr/bin/python3
"""The legacy static token, and a spent daily session quota: the relay waits instead of burning it."""
import json

from harness import Checks, Relay, Sim, relay_config, wait_for, workdir, tear_down


def identifies(sim):
    return [json.loads(r["frame"])["d"] for r in sim.get("/_sim/log")["received"]
            if json.loads(r["frame"]).get("op") == 2]


def main():
    checks = Checks()
    tmp = workdir()

    def legacy_static_token():
        sim = Sim(tmp, "--bot-token", "legacy-token-123")
        config = relay_config(sim, f"ipc://{tmp}/a.sock", f"{tmp}/state").replace(
            'client_secret = "sim-secret"', 'token = "legacy-token-123"')
        relay = Relay(tmp, config)
        try:
            wait_for(lambda: identifies(sim), 15, "an Identify")
            assert identifies(sim)[0]["token"] == "Bot 102000000.legacy-token-123"
            http = sim.get("/_sim/log")["http"]
            assert any(h["path"] == "/gateway/bot" and h["authorization"] == "Bot 102000000.legacy-token-123"
                       for h in http), http
            assert sim.get("/_sim/state")["token_requests"] == 0
            assert relay.stop(5) == 0
        finally:
            relay.close()
            sim.stop()

    checks.run("the legacy static token authorizes REST calls and Identify", legacy_static_token)

    def static_token_after_4004():
        # A static token cannot be renewed: after 4004 the shard resumes with it instead of waiting for a new one.
        sim = Sim(tmp, "--bot-token", "legacy-token-123")
        config = relay_config(sim, f"ipc://{tmp}/c.sock", f"{tmp}/state-c").replace(
            'client_secret = "sim-secret"', 'token = "legacy-token-123"')
        relay = Relay(tmp, config)
        try:
            wait_for(lambda: sim.get("/_sim/state")["identifies"] == 1, 15, "an Identify")
            wait_for(lambda: any(c["session_id"] and c["attached"] for c in sim.get("/_sim/state")["connections"]),
                     15, "a READY session")
            applied = sim.post("/_sim/fault", {"shard": 0, "kind": "close", "code": 4004, "reason": "static"})
            assert len(applied["applied"]) == 1, applied
            wait_for(lambda: sim.get("/_sim/state")["resumes"] == 1, 20, "a Resume after 4004")
            resumes = [json.loads(r["frame"])["d"] for r in sim.get("/_sim/log")["received"]
                       if json.loads(r["frame"]).get("op") == 6]
            assert resumes[0]["token"] == "Bot 102000000.legacy-token-123", resumes
            assert relay.stop(5) == 0
        finally:
            relay.close()
            sim.stop()

    checks.run("after 4004 a static token resumes at once (it cannot be renewed)", static_token_after_4004)

    def spent_quota_waits():
        sim = Sim(tmp, "--shards", "2", "--remaining", "1", "--reset-after", "600000")
        relay = Relay(tmp, relay_config(sim, f"ipc://{tmp}/b.sock", f"{tmp}/state"))
        try:
            wait_for(lambda: "session starts today" in relay.log_text(), 15, "the quota message")
            log = relay.log_text()
            assert "allows 1 more session starts today but 2 shards need one each; waiting 600 s" in log, log
            assert not identifies(sim)
            assert not sim.get("/_sim/log")["connects"]
            assert relay.stop(5) == 0
        finally:
            relay.close()
            sim.stop()

    checks.run("a spent session quota is reported with reset_after and nothing connects", spent_quota_waits)
    tear_down(checks, tmp)
    checks.finish()


if __name__ == "__main__":
    main()
