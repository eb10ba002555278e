#!/usr/bin/python3
"""Webhook ingress with real processes: signed events are published like gateway events, bad input gets a clear
HTTP answer and publishes nothing, HTTPS works, and a request storm does not stall the gateway shards."""
import json
import os
import socket
import subprocess
import threading
import time

from harness import FIXTURES, Checks, Relay, Sim, Subscriber, expect, relay_config, tear_down, wait_for, workdir
from webhook_client import WebhookClient, free_port, key_for

EVENT = '{"op":0,"id":"GROUP_AT_MESSAGE_CREATE:w1","t":"GROUP_AT_MESSAGE_CREATE",' \
        '"d":{"content":"你好 webhook","group_openid":"G1","id":"ROBOT1.0_x","timestamp":"2026-11-26T21:00:00+08:00"}}'


def webhook_section(port, extra=""):
    return f"""
[webhook]
enabled = true
listen = "127.0.0.1:{port}"
request_timeout = 2
{extra}
"""


def main():
    checks = Checks()
    tmp = workdir()
    sim = Sim(tmp, "--shards", "2", "--max-concurrency", "2", "--heartbeat-interval", "1000", "--fixtures", FIXTURES)
    port = free_port()
    endpoint = f"ipc://{tmp}/relay.sock"
    relay = Relay(tmp, relay_config(sim, endpoint, f"{tmp}/state") + webhook_section(port))
    subscriber = Subscriber(endpoint)
    client = WebhookClient(port)
    parts = [subscriber, relay, sim]
    try:
        wait_for(lambda: [s["connected"] for s in sim.get("/_sim/state")["shards"]] == [True, True], 30,
                 "both gateway shards READY")
        subscriber.sync(sim, 0)

        def webhook_events():
            return [(t, body, meta) for t, body, meta in subscriber.events() if meta["source"] == "webhook"]

        probes = iter(range(1000))

        def expect_nothing_published_since(before, what):
            """A signed probe event after the refused requests: once it is published, anything else would be too."""
            probe = EVENT.replace("w1", f"probe-{next(probes)}").encode()
            expect(client.post(probe)[0] == 200, "the probe was refused")
            wait_for(lambda: any(body == probe for _, body, _ in webhook_events()), 10, "the probe event")
            expect(len(webhook_events()) == before + 1, what)

        def signed_event_is_published():
            status, answer = client.post(EVENT.encode())
            expect(status == 200 and answer == b'{"op":12,"d":0}', f"answer {status} {answer}")
            wait_for(lambda: webhook_events(), 5, "the webhook event")
            topic, body, meta = webhook_events()[0]
            expect(topic == "GROUP_AT_MESSAGE_CREATE", topic)
            expect(body == EVENT.encode(), "frame 2 is not the body byte for byte")
            expect(meta["shard"] is None and meta["session_id"] is None and meta["seq"] is None, meta)
            expect(meta["event_id"] == "GROUP_AT_MESSAGE_CREATE:w1" and meta["v"] == 2, meta)
        checks.run("a signed event is acknowledged with op 12 and published byte for byte", signed_event_is_published)

        def simulator_deliveries():
            url = f"http://127.0.0.1:{port}/qq/webhook"

            def delivered(delivery):
                results = sim.get("/_sim/webhook/results")
                return results["pending"] == 0 and [r for r in results["results"] if r["delivery"] == delivery]
            # Every fixture, signed by the simulator, each delivered twice (a platform retry).
            sent = sim.post("/_sim/webhook", {"url": url, "fixtures": True, "repeat": 2})
            results = wait_for(lambda: delivered(sent["delivery"]), 20, "the fixture deliveries")
            expect(len(results) == 2 * len(sent["bodies"]) and all(r["status"] == 200 for r in results),
                   f"statuses {sorted({r['status'] for r in results})}")
            wanted = [b.encode() for b in sent["bodies"]]
            wait_for(lambda: len([e for e in webhook_events() if e[1] in wanted]) >= len(wanted), 10,
                     "every fixture at the subscriber")
            got = [body for _, body, _ in webhook_events() if body in wanted]
            expect(sorted(got) == sorted(wanted), "fixtures not published exactly once, byte for byte")
            for topic, body, meta in webhook_events():
                if body in wanted:
                    envelope = json.loads(body)
                    expect(topic == envelope["t"] and meta["event_id"] == envelope.get("id"), meta)
            # Bad signatures from the simulator publish nothing.
            before = len(webhook_events())
            for mode, status in (("bad", 401), ("missing", 401), ("malformed", 400)):
                bad = sim.post("/_sim/webhook", {"url": url, "t": "C2C_MESSAGE_CREATE", "d": {"n": mode},
                                                 "signature": mode})
                results = wait_for(lambda: delivered(bad["delivery"]), 10, f"the {mode} delivery")
                expect([r["status"] for r in results] == [status], f"{mode}: {results}")
            stale = sim.post("/_sim/webhook", {"url": url, "t": "C2C_MESSAGE_CREATE", "d": {"n": "stale"},
                                               "timestamp": int(time.time()) - 3600})
            expect([r["status"] for r in wait_for(lambda: delivered(stale["delivery"]), 10, "stale")] == [401],
                   "a stale timestamp was accepted")
            check = sim.post("/_sim/webhook", {"url": url, "validation": {"plain_token": "Sim0Token1",
                                                                          "event_ts": "1725442341"}})
            answer = json.loads(wait_for(lambda: delivered(check["delivery"]), 10, "validation")[0]["response"])
            client.key.public_key().verify(bytes.fromhex(answer["signature"]), b"1725442341Sim0Token1")
            expect_nothing_published_since(before, "a refused delivery was published")
        checks.run("the simulator's signed deliveries: fixtures byte for byte once despite retries; bad ones refused",
                   simulator_deliveries)

        def bad_input_is_refused():
            before = len(webhook_events())
            body = EVENT.replace("w1", "bad").encode()
            good = client.signed_headers(body)
            stale = client.signed_headers(body, timestamp=int(time.time()) - 3600)
            wrong_key = WebhookClient(port, secret="another-secret").signed_headers(body)
            cases = [
                ("no signature", client.post(body, headers={"Content-Type": "application/json"}), 401),
                ("signature by another key", client.post(body, headers=wrong_key), 401),
                ("signature of other bytes", client.post(body + b" ", headers=good), 401),
                ("stale timestamp", client.post(body, headers=stale), 401),
                ("malformed signature", client.post(body, headers=dict(good, **{"X-Signature-Ed25519": "xyz"})), 400),
                ("non-canonical S", client.post(body, headers=dict(
                    good, **{"X-Signature-Ed25519": good["X-Signature-Ed25519"][:126] + "ff"})), 400),
                ("wrong path", client.post(body, path="/other"), 404),
                ("wrong method", client.post(body, method="GET"), 405),
                # Signed bodies that are not JSON are acknowledged and quarantined (test_relay_invalid_input.py).
                ("not JSON, unsigned", client.post(b"not json", headers={"Content-Type": "application/json"}), 400),
                ("no op", client.post(b'{"d":{}}'), 400),
            ]
            for name, (status, answer), wanted in cases:
                expect(status == wanted, f"{name}: HTTP {status} {answer}, wanted {wanted}")
                expect(answer.startswith(b'{"error":'), f"{name}: answer {answer}")
            expect_nothing_published_since(before, "a refused request was published")
            expect(relay.proc.poll() is None, "the relay died")
        checks.run("bad signatures, stale timestamps, wrong path/method, not JSON: clear status, nothing published",
                   bad_input_is_refused)

        def oversized_bodies_are_refused():
            # Announced too large: answered 413 before the body is read.
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(b"POST /qq/webhook HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n" + b"x" * 1000)
                expect(s.recv(4096).startswith(b"HTTP/1.1 413"), "no 413 for Content-Length 2000000")
            # No length at all (chunked): the platform always sends Content-Length.
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(b"POST /qq/webhook HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
                answer = s.recv(4096)
                expect(answer.startswith(b"HTTP/1.1 411"), f"chunked body: {answer[:40]}")
            expect(relay.proc.poll() is None, "the relay died")
        checks.run("bodies over max_body get 413, bodies without a length 411", oversized_bodies_are_refused)

        def hostile_connections():
            # Two requests pipelined on one connection: the first is answered and the connection closed.
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                one = b"POST /qq/webhook HTTP/1.1\r\nHost: x\r\nContent-Length: 15\r\n\r\n{\"op\":0,\"d\":{}}"
                s.sendall(one + one)
                answer = b""
                while chunk := s.recv(4096):
                    answer += chunk
                expect(answer.startswith(b"HTTP/1.1 401") and answer.count(b"HTTP/1.1") == 1, f"{answer[:80]}")
            # A WebSocket upgrade is refused on any path.
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(b"GET /qq/webhook HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
                answer = s.recv(4096)
                expect(not answer.startswith(b"HTTP/1.1 101"), f"a WebSocket upgrade was accepted: {answer[:40]}")
            # A body sent a byte at a time is cut off at request_timeout (2 s), not kept alive by each byte.
            started = time.monotonic()
            with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                s.sendall(b"POST /qq/webhook HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n")
                try:
                    for _ in range(20):
                        s.sendall(b"x")
                        time.sleep(0.5)
                except (BrokenPipeError, ConnectionResetError):
                    pass
            took = time.monotonic() - started
            expect(took < 5, f"a trickling body held the connection for {took:.1f} s")
            expect(client.post(EVENT.replace("w1", "after-hostile").encode())[0] == 200, "the listener stopped")
        checks.run("pipelined requests, WebSocket upgrades and trickling bodies are handled", hostile_connections)

        def slow_requests_time_out():
            started = time.monotonic()
            half_headers = socket.create_connection(("127.0.0.1", port), timeout=10)
            half_headers.sendall(b"POST /qq/webhook HTTP/1.1\r\nHost: x\r\n")
            half_body = socket.create_connection(("127.0.0.1", port), timeout=10)
            half_body.sendall(b"POST /qq/webhook HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"op\":0")
            for s in (half_headers, half_body):
                try:
                    got = s.recv(4096)
                except ConnectionResetError:
                    got = b""
                expect(got == b"" or got.startswith(b"HTTP/1.1 408"), f"a half-sent request got {got[:40]}")
                s.close()
            took = time.monotonic() - started
            expect(took < 5, f"slow requests held for {took:.1f} s with request_timeout = 2")
            # The listener still answers.
            expect(client.post(EVENT.replace("w1", "after-slow").encode())[0] == 200, "no answer after slow requests")
        checks.run("half-sent requests are timed out", slow_requests_time_out)

        def validation_is_answered_and_safe():
            body = b'{"d":{"plain_token":"Arq0D5A61EgUu4OxUvOp","event_ts":"1725442341"},"op":13}'
            status, answer = client.post(body, headers={"Content-Type": "application/json"})
            expect(status == 200, f"op 13: {status} {answer}")
            reply = json.loads(answer)
            expect(reply["plain_token"] == "Arq0D5A61EgUu4OxUvOp", reply)
            client.key.public_key().verify(bytes.fromhex(reply["signature"]), b"1725442341Arq0D5A61EgUu4OxUvOp")
            forged = json.dumps({"op": 13, "d": {"plain_token": EVENT, "event_ts": "1"}}).encode()
            status, answer = client.post(forged, headers={"Content-Type": "application/json"})
            expect(status == 400 and b"signature" not in answer, f"op 13 signed arbitrary bytes: {status} {answer}")
            signed_wrong = WebhookClient(port, secret="another-secret").signed_headers(body)
            expect(client.post(body, headers=signed_wrong)[0] == 401, "a badly signed op 13 was answered")
        checks.run("op 13 is answered with a valid signature, and is no signing oracle", validation_is_answered_and_safe)

        def duplicates_are_published_once():
            body = EVENT.replace("w1", "dup").encode()
            for _ in range(3):
                expect(client.post(body)[0] == 200, "a retry was not acknowledged")
            # The same id through the gateway as well.
            gateway_frame = json.dumps({"op": 0, "t": "GROUP_AT_MESSAGE_CREATE",
                                        "id": "GROUP_AT_MESSAGE_CREATE:both", "d": {}})
            sim.post("/_sim/fault", {"shard": 1, "kind": "raw", "text": gateway_frame})
            wait_for(lambda: any(m["event_id"] == "GROUP_AT_MESSAGE_CREATE:both" for _, _, m in subscriber.events()),
                     5, "the gateway copy")
            expect(client.post(EVENT.replace("w1", "both").encode())[0] == 200, "the webhook copy was refused")
            client.post(EVENT.replace("w1", "marker").encode())
            wait_for(lambda: any(m["event_id"] == "GROUP_AT_MESSAGE_CREATE:marker" for _, _, m in subscriber.events()),
                     5, "the marker")
            ids = [m["event_id"] for _, _, m in subscriber.events()]
            expect(ids.count("GROUP_AT_MESSAGE_CREATE:dup") == 1, "a webhook retry was published twice")
            expect(ids.count("GROUP_AT_MESSAGE_CREATE:both") == 1, "gateway + webhook published twice")
        checks.run("retries and the same event by gateway and webhook are published once", duplicates_are_published_once)

        def storm_does_not_stall_the_gateway():
            sim.post("/_sim/log/clear", {})
            before = sum(t == "C2C_MESSAGE_CREATE" for t, _, _ in subscriber.events())
            sim.post("/_sim/generate", {"count": 300, "rate": 150})
            results = []

            def hammer():
                bad = {"Content-Type": "application/json", "X-Signature-Timestamp": str(int(time.time())),
                       "X-Signature-Ed25519": "00" * 64}
                for _ in range(300):
                    results.append(client.post(EVENT.encode(), headers=bad)[0])
            threads = [threading.Thread(target=hammer) for _ in range(4)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            expect(results.count(401) == 1200, f"storm answers: {set(results)}")
            wait_for(lambda: sum(t == "C2C_MESSAGE_CREATE" for t, _, _ in subscriber.events()) == before + 600, 20,
                     "every gateway event during the storm")
            log = sim.get("/_sim/log")
            expect(log["closes"] == [] and log["connects"] == [], "a gateway connection dropped during the storm")
        checks.run("a storm of 1200 bad requests does not stall the gateway shards", storm_does_not_stall_the_gateway)

        def counted_at_exit():
            expect(relay.stop() == 0, "exit code")
            text = relay.log_text()
            expect("webhook: rejected a request (bad_signature, HTTP 401" in text, "rejections are not logged")
            stats = [line for line in text.splitlines() if "webhook: " in line and " requests, " in line]
            expect(stats, "no webhook totals at exit")
            rejected = int(stats[-1].split(", ")[-1].split()[0])
            expect(rejected >= 1200 + 14, f"rejections counted: {stats[-1]}")
        checks.run("rejections are logged (rate-limited) and counted", counted_at_exit)

        def https_webhook_only():
            cert, key = f"{tmp}/cert.pem", f"{tmp}/key.pem"
            subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                            "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost"],
                           check=True, capture_output=True)
            tls_port = free_port()
            config = relay_config(sim, f"ipc://{tmp}/tls.sock", f"{tmp}/tls-state",
                                  extra_gateway="enabled = false")
            config += webhook_section(tls_port, f'tls_cert = "{cert}"\ntls_key = "{key}"')
            sim.post("/_sim/log/clear", {})
            tls_relay = Relay(tmp, config, name="relay-tls")
            parts.append(tls_relay)
            tls_subscriber = Subscriber(f"ipc://{tmp}/tls.sock")
            parts.append(tls_subscriber)
            tls_client = WebhookClient(tls_port, tls=True)
            wait_for(lambda: "webhook: listening on https://" in tls_relay.log_text(), 10, "the HTTPS listener")
            body = EVENT.replace("w1", "tls-0").encode()
            for attempt in range(40):  # PUB/SUB joins asynchronously: post until one arrives
                body = EVENT.replace("w1", f"tls-{attempt}").encode()
                expect(tls_client.post(body) == (200, b'{"op":12,"d":0}'), "HTTPS post refused")
                time.sleep(0.1)
                if tls_subscriber.events():
                    break
            topic, got, meta = tls_subscriber.events()[-1]
            expect(got == body and meta["source"] == "webhook", "the HTTPS event did not arrive intact")
            log = sim.get("/_sim/log")
            expect(log["http"] == [] and log["connects"] == [], "a webhook-only relay contacted the gateway")
            expect(tls_relay.stop() == 0, "exit code")
        checks.run("HTTPS with a test certificate, webhook only (no gateway connection)", https_webhook_only)

        def ipv6_listener():
            with socket.socket(socket.AF_INET6) as s:
                s.bind(("::1", 0))
                v6_port = s.getsockname()[1]
            config = relay_config(sim, f"ipc://{tmp}/v6.sock", f"{tmp}/v6-state", extra_gateway="enabled = false")
            config += webhook_section(v6_port).replace(f"127.0.0.1:{v6_port}", f"[::1]:{v6_port}")
            v6_relay = Relay(tmp, config, name="relay-v6")
            parts.append(v6_relay)
            wait_for(lambda: "webhook: listening" in v6_relay.log_text(), 10, "the IPv6 listener")
            import http.client
            connection = http.client.HTTPConnection("::1", v6_port, timeout=5)
            body = EVENT.replace("w1", "v6").encode()
            connection.request("POST", "/qq/webhook", body=body, headers=client.signed_headers(body))
            response = connection.getresponse()
            expect((response.status, response.read()) == (200, b'{"op":12,"d":0}'), "no answer over IPv6")
            connection.close()
            expect(v6_relay.stop() == 0, "exit code")
        checks.run("listen on an IPv6 address", ipv6_listener)
    finally:
        tear_down(checks, tmp, *parts)
    checks.finish()


if __name__ == "__main__":
    main()
