#!/usr/bin/python3
"""GET /metrics (Prometheus text format) and GET /healthz: counters move as the simulator injects faults, and
health turns 503 with a reason when a shard is down."""
import json
import signal
import subprocess
import time

from harness import RELAY_BIN, Checks, Relay, Sim, expect, relay_config, tear_down, wait_for, workdir
from metrics_client import get, parse
from webhook_client import free_port

def main():
    checks = Checks()
    tmp = workdir()
    sim = Sim(tmp, "--shards", "2", "--max-concurrency", "2", "--heartbeat-interval", "500")
    port = free_port()
    relay = Relay(tmp, relay_config(sim, f"ipc://{tmp}/relay.sock", f"{tmp}/state") +
                  f'[metrics]\nlisten = "127.0.0.1:{port}"\n')
    try:
        def metrics():
            status, content_type, body = get(port, "/metrics")
            expect(status == 200 and content_type.startswith("text/plain; version=0.0.4"), f"{status} {content_type}")
            return parse(body)

        def healthy_when_ready():
            wait_for(lambda: get(port, "/healthz")[0] == 200, 30, "/healthz 200")
            status, content_type, body = get(port, "/healthz")
            expect(json.loads(body) == {"status": "ok"} and content_type == "application/json", body)
            m = metrics()
            expect(m[("qq_relay_shard_up", 'shard="0"')] == 1 and m[("qq_relay_shard_up", 'shard="1"')] == 1, "shard_up")
            lines = subprocess.run([RELAY_BIN, "--version"], capture_output=True, text=True).stdout.splitlines()
            version, allocator = lines[0].split()[-1], lines[1].split(": ", 1)[1]
            expect(m[("qq_relay_build_info", f'version="{version}",allocator="{allocator}"')] == 1, "build_info")
            expect(abs(m[("qq_relay_start_time_seconds", "")] - time.time()) < 120, "start_time_seconds")
            expect(m[("qq_relay_identifies_total", "")] == 2, "identifies")
            expect(m[("qq_relay_events_total", 'source="gateway",type="READY"')] == 2, "READY events")
            expect(get(port, "/other")[0] == 404, "another path")
        checks.run("/healthz is 200 once every shard is ready; /metrics parses", healthy_when_ready)

        def counters_move():
            before = metrics()
            sim.post("/_sim/send", {"shard": 0, "t": "GROUP_AT_MESSAGE_CREATE", "d": {}})
            sim.post("/_sim/fault", {"shard": 0, "kind": "close", "code": 4009})
            sim.post("/_sim/fault", {"shard": 1, "kind": "malformed"})
            wait_for(lambda: metrics().get(("qq_relay_resumes_total", ""), 0) == before.get(("qq_relay_resumes_total", ""), 0) + 1,
                     20, "a resume")
            wait_for(lambda: ("qq_relay_heartbeat_rtt_seconds", 'shard="1"') in metrics(), 10, "a heartbeat RTT")
            after = metrics()
            expect(after[("qq_relay_close_codes_total", 'code="4009"')] == 1, "close code 4009 not counted")
            expect(after[("qq_relay_parse_errors_total", "")] == before[("qq_relay_parse_errors_total", "")] + 1,
                   "the malformed frame")
            expect(after[("qq_relay_events_total", 'source="gateway",type="GROUP_AT_MESSAGE_CREATE"')] == 1, "event")
            expect(after[("qq_relay_messages_published_total", "")] > before[("qq_relay_messages_published_total", "")],
                   "published")
            expect(after[("qq_relay_token_refreshes_total", "")] >= 1, "token refreshes")
            # A heartbeat RTT exists, so at least one heartbeat went out and was acknowledged.
            expect(after[("qq_relay_heartbeats_total", "")] >= 1 and after[("qq_relay_heartbeat_acks_total", "")] >= 1,
                   "heartbeats")
        checks.run("counters move as faults are injected", counters_move)

        def loop_lag_shows_a_stall():
            family = "qq_relay_event_loop_delay_seconds"
            wait_for(lambda: metrics().get((family + "_count", ""), 0) >= 2, 10, "two runs of the lag probe")
            # A stopped process is a loop that runs nothing: its probe fires that much late once it goes on. The probe
            # is due once a second, so one due time falls at least 1.5 s before the end of a 2.5 s stop.
            relay.proc.send_signal(signal.SIGSTOP)
            stopped_at = time.monotonic()
            try:
                while time.monotonic() - stopped_at < 2.5:
                    time.sleep(0.05)
            finally:
                relay.proc.send_signal(signal.SIGCONT)
            wait_for(lambda: metrics()[("qq_relay_event_loop_lag_seconds", "")] >= 1.0, 10, "the stall in the lag")
            m = metrics()
            buckets = [m[(family + "_bucket", f'le="{le}"')] for le in ("0.001", "0.005", "0.025", "0.1", "1", "10")]
            expect(buckets == sorted(buckets), f"buckets not cumulative: {buckets}")
            expect(m[(family + "_bucket", 'le="+Inf"')] == m[(family + "_count", "")], "+Inf is not the count")
            expect(m[(family + "_count", "")] - buckets[4] >= 1, "the stall is not in a bucket above 1 s")
            expect(m[(family + "_sum", "")] >= 1.0, "sum")
        checks.run("the event loop lag shows a 2.5 s stall of the relay (SIGSTOP)", loop_lag_shows_a_stall)

        def unhealthy_when_a_shard_stops():
            sim.post("/_sim/fault", {"shard": 1, "kind": "close", "code": 4014})
            wait_for(lambda: get(port, "/healthz")[0] == 503, 20, "/healthz 503")
            body = json.loads(get(port, "/healthz")[2])
            expect(body["status"] == "unavailable" and "shard 1/2 is stopped" in body["reason"], body)
            expect(metrics()[("qq_relay_shard_up", 'shard="1"')] == 0, "shard_up of the stopped shard")
            phases = {labels: v for (name, labels), v in metrics().items() if name == "qq_relay_shard_phase"}
            expect(phases == {'shard="0",phase="ready"': 1, 'shard="1",phase="stopped"': 1}, f"phases: {phases}")
            expect(relay.proc.poll() is None, "the relay exited with a shard still running")
        checks.run("/healthz turns 503 with a reason when a shard stops for good", unhealthy_when_a_shard_stops)
        checks.run("SIGTERM exits 0", lambda: expect(relay.stop() == 0, "exit code"))
    finally:
        tear_down(checks, tmp, relay, sim)
    checks.finish()


if __name__ == "__main__":
    main()
