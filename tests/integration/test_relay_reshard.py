#!/usr/bin/python3
"""Close 4011 (too many guilds on this connection): every shard is closed and the layout restarts, larger."""
import json

from harness import Checks, Relay, Sim, relay_config, wait_for, workdir, expect, tear_down


def main():
    checks = Checks()
    tmp = workdir()
    sim = Sim(tmp, "--shards", "1", "--max-concurrency", "2", "--heartbeat-interval", "2000")
    relay = Relay(tmp, relay_config(sim, f"ipc://{tmp}/relay.sock", f"{tmp}/state"))
    try:
        def live_shards():
            return sorted(tuple(c["shard"]) for c in sim.get("/_sim/state")["connections"]
                          if c["shard"] and c["session_id"] and not c["closing"])

        wait_for(lambda: live_shards() == [(0, 1)], 20, "one shard READY")

        def reshard_on_4011():
            sim.post("/_sim/config", {"shards": 3})
            sim.post("/_sim/fault", {"shard": 0, "kind": "close", "code": 4011})
            wait_for(lambda: live_shards() == [(0, 3), (1, 3), (2, 3)], 30, "three shards READY")
            identifies = [json.loads(r["frame"])["d"]["shard"] for r in sim.get("/_sim/log")["received"]
                          if json.loads(r["frame"]).get("op") == 2]
            assert identifies[0] == [0, 1] and sorted(identifies[1:]) == [[0, 3], [1, 3], [2, 3]], identifies
            assert len(sim.get("/_sim/state")["connections"]) == 3
            assert relay.proc.poll() is None

        checks.run("4011 restarts every shard with the new count", reshard_on_4011)
        checks.run("SIGTERM exits 0", lambda: expect(relay.stop(5) == 0, "exit code"))
    finally:
        tear_down(checks, tmp, relay, sim)
    checks.finish()


if __name__ == "__main__":
    main()
