#!/usr/bin/python3
"""The gateway over TLS (https:// API, wss:// gateway), as on the live platform.

The simulator serves both with a certificate from a test CA that the relay trusts through $SSL_CERT_FILE. The
relay does the gateway connection's TLS, upgrade and framing itself, so everything the plain tests show is
checked again over TLS: events exactly once and in order, frames larger than a TLS record, a close frame and a
dropped connection mid-stream (resumed), the server's pings answered. And the certificate is checked: a gateway
URL whose host the certificate does not name is refused, and the relay keeps trying.
"""
import os

from harness import Checks, Relay, Sim, Subscriber, expect, relay_config, tear_down, wait_for, workdir

TLS_DIR = os.path.join(os.environ.get("QQ_TEST_DATA", os.path.join(os.path.dirname(__file__), "..", "data")),
                       "tls")
CA = os.path.join(TLS_DIR, "ca.pem")
SERVER = ["--tls-cert", os.path.join(TLS_DIR, "server.pem"), "--tls-key", os.path.join(TLS_DIR, "server.key")]
SHARDS = 2


def relay_env():
    env = dict(os.environ, SSL_CERT_FILE=CA)
    env.pop("SSL_CERT_DIR", None)
    return env


def main():
    checks = Checks()
    tmp = workdir()
    # The gateway URL names "localhost": the relay checks the certificate by DNS name (and sends it as SNI);
    # the API is reached by address, so lws's HTTPS client checks the IP address entry.
    sim = Sim(tmp, *SERVER, "--shards", str(SHARDS), "--max-concurrency", "2", "--heartbeat-interval", "1000",
              "--gateway-host", "localhost", ca_file=CA)
    endpoint = f"ipc://{tmp}/relay.sock"
    relay = Relay(tmp, relay_config(sim, endpoint, f"{tmp}/state"), env=relay_env())
    subscriber = Subscriber(endpoint)
    mismatch_sim = mismatch_relay = None
    expected = {shard: 0 for shard in range(SHARDS)}

    def burst(shard, count=400, rate=0, size=300):
        sim.post("/_sim/generate", {"shard": shard, "count": count, "rate": rate, "size": size})
        expected[shard] += count

    def delivered_exactly_once(shard):
        wait_for(lambda: len(subscriber.seq_nos(shard)) >= expected[shard], 40,
                 f"shard {shard}: {expected[shard]} events (got {len(subscriber.seq_nos(shard))})")
        got = subscriber.seq_nos(shard)
        expect(got == list(range(1, expected[shard] + 1)),
               f"shard {shard}: not exactly once in order ({len(got)} events, first repeats/gaps near "
               f"{[s for i, s in enumerate(got) if s != i + 1][:5]})")

    try:
        def ready_over_tls():
            wait_for(lambda: [s["connected"] for s in sim.get("/_sim/state")["shards"]] == [True] * SHARDS, 30,
                     "both shards READY over wss://")
            expect(sim.get("/_sim/state")["identifies"] == SHARDS, "one identify per shard")
            for shard in range(SHARDS):
                subscriber.sync(sim, shard)

        checks.run("both shards connect over wss:// with the certificate verified by name", ready_over_tls)

        def flood_and_large_frames():
            for shard in range(SHARDS):
                burst(shard, count=3000)
            # Larger than a TLS record (16 KiB) and than the relay's 16 KiB read: split across both.
            sizes = (17_000, 40_000, 200_000)
            wanted = []
            for size in sizes:
                sent = sim.post("/_sim/send", {"shard": 1, "t": "GROUP_AT_MESSAGE_CREATE",
                                               "d": {"content": "y" * size}})
                wanted.append(sent["sent"][0]["frame"].encode())
            for shard in range(SHARDS):
                delivered_exactly_once(shard)
            bodies = {body for _, body, _ in subscriber.events()}
            expect(all(w in bodies for w in wanted), "the large frames arrived byte for byte")

        checks.run("a flood and frames larger than a TLS record arrive whole, exactly once, in order",
                   flood_and_large_frames)

        def fault_mid_stream(shard, fault, code):
            def run():
                before = len(subscriber.shard_states(shard))
                burst(shard, count=600, rate=600)
                wait_for(lambda: len(subscriber.seq_nos(shard)) > expected[shard] - 500, 10, "the burst to start")
                sim.post("/_sim/fault", dict(fault, shard=shard))
                wait_for(lambda: any(s["state"] == "resumed" for s in subscriber.shard_states(shard)[before:]), 30,
                         f"shard {shard} resumed")
                disconnected = [s for s in subscriber.shard_states(shard)[before:] if s["state"] == "disconnected"]
                expect(disconnected and disconnected[0]["close_code"] == code,
                       f"the disconnect is reported with {code}: {disconnected}")
                delivered_exactly_once(shard)
            return run

        checks.run("close 4009 mid-stream: reported as 4009, resumed over TLS",
                   fault_mid_stream(0, {"kind": "close", "code": 4009}, 4009))
        checks.run("close 4009 then close_notify and FIN at once: still reported as 4009, resumed",
                   fault_mid_stream(1, {"kind": "close", "code": 4009, "abrupt": True}, 4009))
        checks.run("a TCP drop mid-stream: reported as 1006, resumed over TLS, nothing lost or repeated",
                   fault_mid_stream(0, {"kind": "drop", "immediate": True}, 1006))

        def pings_answered():
            sim.post("/_sim/fault", {"shard": 1, "kind": "ping", "text": "are you there"})
            conn = lambda: next(c for c in sim.get("/_sim/state")["connections"]
                                if c["shard"] == [1, SHARDS] and c["attached"])
            wait_for(lambda: conn()["pongs"] >= 1, 10, "a pong")
            expect(conn()["last_pong"] == "are you there", f"the pong echoes the ping: {conn()['last_pong']!r}")
            burst(1, count=50)
            delivered_exactly_once(1)

        checks.run("the server's ping is answered with its payload, and the stream goes on", pings_answered)

        def wrong_name_refused():
            nonlocal mismatch_sim, mismatch_relay
            # Same certificate, but the gateway URL names 127.0.0.2, which it does not list.
            mismatch_sim = Sim(os.path.join(tmp, "mismatch"), *SERVER, "--listen", "0.0.0.0", "--gateway-host",
                               "127.0.0.2", ca_file=CA)
            mismatch_relay = Relay(tmp, relay_config(mismatch_sim, f"ipc://{tmp}/mismatch.sock",
                                                     f"{tmp}/mismatch-state"), name="mismatch", env=relay_env())
            refusal = "certificate verification failed: IP address mismatch"
            wait_for(lambda: mismatch_relay.log_text().count(refusal) >= 2, 30,
                     "two connection attempts refused for the certificate")
            state = mismatch_sim.get("/_sim/state")
            expect(state["identifies"] == 0 and state["resumes"] == 0, f"nothing was sent past TLS: {state}")
            expect(mismatch_relay.proc.poll() is None, "the relay keeps running and retrying")

        os.makedirs(os.path.join(tmp, "mismatch"), exist_ok=True)
        checks.run("a certificate that does not name the gateway host is refused, and the relay retries",
                   wrong_name_refused)
        checks.run("SIGTERM exits 0", lambda: expect(relay.stop(10) == 0, "exit code"))
    finally:
        tear_down(checks, tmp, relay, subscriber, sim, *(p for p in (mismatch_relay, mismatch_sim) if p))
    checks.finish()


if __name__ == "__main__":
    main()
