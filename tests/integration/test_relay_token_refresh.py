#!/usr/bin/python3
"""Access tokens: refreshed before they expire, retried while the token endpoint is down, and a failed refresh
never touches a live connection."""
import json
import re

from harness import Checks, Relay, Sim, Subscriber, expect, relay_config, tear_down, wait_for, workdir


def main():
    checks = Checks()
    tmp = workdir()
    # 4 s tokens: the relay refreshes at half their life, and each refresh gets a new token.
    sim = Sim(tmp, "--shards", "2", "--max-concurrency", "2", "--heartbeat-interval", "1000", "--token-ttl", "4")
    endpoint = f"ipc://{tmp}/relay.sock"
    relay = Relay(tmp, relay_config(sim, endpoint, f"{tmp}/state"))
    subscriber = Subscriber(endpoint)
    try:
        def live_connections():
            return sorted(c["id"] for c in sim.get("/_sim/state")["connections"] if c["attached"] and c["shard"])

        wait_for(lambda: len(live_connections()) == 2, 30, "both shards READY")
        subscriber.sync(sim, 0)
        subscriber.sync(sim, 1)
        connections = live_connections()

        def obtained():
            return relay.log_text().count("access token obtained")

        def refreshed_before_expiry():
            start = obtained()
            wait_for(lambda: obtained() >= start + 2, 10, "two refreshes")
            requests = [h for h in sim.get("/_sim/log")["http"] if h["path"] == "/app/getAppAccessToken"]
            expect(all(h["status"] == 200 for h in requests), "a refresh failed")
        checks.run("the token is refreshed before it expires", refreshed_before_expiry)

        def outage_keeps_connections():
            sim.post("/_sim/log/clear", {})
            before = obtained()
            sim.post("/_sim/fault", {"kind": "token_outage", "count": 3, "status": 503})
            sim.post("/_sim/generate", {"count": 400, "rate": 100})  # 4 s of events during the outage
            wait_for(lambda: sum(1 for h in sim.get("/_sim/log")["http"] if h["status"] == 503) == 3, 30,
                     "three failed refreshes")
            wait_for(lambda: obtained() > before, 30, "a refresh after the outage")
            wait_for(lambda: sum(t == "C2C_MESSAGE_CREATE" for t, _, _ in subscriber.events()) == 800, 20,
                     "every event of the outage")
            log = sim.get("/_sim/log")
            expect(log["closes"] == [] and log["connects"] == [], f"connections changed: {log['closes']}")
            expect(live_connections() == connections, "a connection was replaced")
            expect(len(re.findall(r"token endpoint answered HTTP 503; retrying", relay.log_text())) == 3,
                   "the failed refreshes were not logged")
        checks.run("a token endpoint outage drops no connection and loses no event", outage_keeps_connections)

        def resume_uses_the_newest_token():
            wait_for(lambda: obtained() >= 2, 10, "a token")
            # At least one more refresh (4 s tokens, the first one obtained several seconds ago has expired).
            current = obtained()
            wait_for(lambda: obtained() > current, 10, "one more refresh")
            sim.post("/_sim/log/clear", {})
            sim.post("/_sim/fault", {"kind": "reconnect"})
            wait_for(lambda: len([r for r in sim.get("/_sim/log")["received"]
                                  if json.loads(r["frame"])["op"] == 6]) == 2, 20, "two resumes")
            wait_for(lambda: len(live_connections()) == 2, 20, "both shards back")
            closes = sim.get("/_sim/log")["closes"]
            expect(all(c["server_code"] != 4004 for c in closes), f"a Resume used a stale token: {closes}")
        checks.run("Resume after refreshes uses the newest token", resume_uses_the_newest_token)
    finally:
        tear_down(checks, tmp, subscriber, relay, sim)
    checks.finish()


if __name__ == "__main__":
    main()
