#!/usr/bin/python3
"""The OpenAPI forwarder ([api], docs/api.md), against the simulator's OpenAPI: client keys and the SDK-style
token exchange, the relay's own token and X-Union-Appid on every forwarded request (the client's Authorization
never reaches the platform), answers handed back with their status, body and trace id, msg_seq for passive
replies, 11244 -> one new token and one resend, no resend of a POST after a connection reset, multipart and a
10 MiB body byte for byte, max_in_flight and the bounded queue, revocation on SIGHUP, and no key or token in
the log.
Environment: QQ_RELAY_BIN, QQ_SIM_BIN.
"""
import base64
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import threading

from harness import Checks, Relay, Sim, expect, relay_config, tear_down, wait_for, workdir
from webhook_client import accepts_connections, free_port

APP_ID = "102000000"
KEY_A = "a" * 20 + "-echo-bot-key-0123456789"
KEY_B = "b" * 20 + "-reporter-key-0123456789"
SOURCE = os.environ.get("QQ_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
SDK_DIR = os.path.join(SOURCE, "tests", "sdk")


class Reply:
    def __init__(self, status, headers, raw):
        self.status = status
        self.headers = headers
        self.raw = raw

    @property
    def json(self):
        return json.loads(self.raw) if self.raw else None

    def __repr__(self):
        return f"Reply({self.status}, {self.raw[:300]!r})"


def call(port, method, path, body=None, headers=None, raw=None, content_type="application/json", timeout=20):
    data = raw if raw is not None else (json.dumps(body, ensure_ascii=False).encode() if body is not None else None)
    headers = dict(headers or {})
    if data is not None:
        headers.setdefault("Content-Type", content_type)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=data, headers=headers)
        response = conn.getresponse()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        conn.close()


def main():
    checks = Checks()
    tmp = workdir()
    sim = Sim(tmp, "--shards", "1")
    api_port = free_port()
    metrics_port = free_port()
    clients_file = os.path.join(tmp, "clients")
    with open(os.open(clients_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write(f"# test clients\necho-bot {KEY_A}\nreporter {KEY_B}\n")
    config = relay_config(sim, f"ipc://{tmp}/pub.sock", f"{tmp}/state") + f"""
[api]
enabled = true
listen = "127.0.0.1:{api_port}"
clients_file = "{clients_file}"
upstream_timeout = 5
max_in_flight = 2
max_queued = 1
[metrics]
listen = "127.0.0.1:{metrics_port}"
"""
    # At trace level, so that the check that no key or token is logged covers every line the relay can write.
    relay = Relay(tmp, config, "--log-level", "trace")

    def sim_call(method, path, body=None):
        return call(sim.port, method, path, body)

    def recorded():
        return sim_call("GET", "/_sim/api/requests").json["requests"]

    def clear():
        expect(sim_call("POST", "/_sim/api/requests/clear", {}).status == 200, "clear")

    def fault(**body):
        expect(sim_call("POST", "/_sim/fault", body).status == 200, f"fault {body}")

    def relay_token():
        # The token the simulator issued to the relay: what it sends as QQBot ...
        entries = [e for e in sim.get("/_sim/log")["http"] if e["path"] == "/app/getAppAccessToken"]
        return entries

    def metric(name):
        for line in call(metrics_port, "GET", "/metrics").raw.decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return None

    bearer = {"Authorization": "Bearer " + KEY_A}
    later = []  # processes started by the checks
    try:
        wait_for(lambda: relay.proc.poll() is not None or accepts_connections(api_port), 30, "the api listener")
        expect(relay.proc.poll() is None, "the relay exited: " + relay.log_text()[-2000:])
        wait_for(lambda: sim.get("/_sim/state")["shards"] and sim.get("/_sim/state")["shards"][0]["connected"], 30,
                 "the shard READY (the relay has a token)")

        def refused_without_a_client_key():
            clear()
            for headers in ({}, {"Authorization": "Bearer " + "x" * 40}, {"Authorization": "QQBot " + KEY_A},
                            {"Authorization": "Bearer " + KEY_A[:-1]}):
                r = call(api_port, "GET", "/users/@me", headers=headers)
                expect(r.status == 401 and r.json["code"] == 11244, f"{headers}: {r}")
            expect(recorded() == [], "a refused request reached the platform")
        checks.run("requests without a valid client key get 401 and are not forwarded", refused_without_a_client_key)

        def forwarded_with_the_relays_token():
            clear()
            r = call(api_port, "POST", "/v2/groups/G1/messages?x=1",
                     {"content": "回复", "msg_type": 0, "msg_id": "M-fwd-1"}, bearer)
            expect(r.status == 200 and "id" in r.json, r)
            expect(len(r.headers.get("x-tps-trace-id", "")) == 32, f"trace header: {r.headers}")
            expect(r.headers.get("content-type", "").startswith("application/json"), r.headers)
            [entry] = recorded()
            expect(entry["path"] == "/v2/groups/G1/messages" and entry["query"] == "x=1", entry)
            sent = entry["headers"]["authorization"]
            expect(sent.startswith("QQBot ") and KEY_A not in sent, f"forwarded Authorization {sent!r}")
            expect(entry["headers"]["x-union-appid"] == APP_ID, entry["headers"])
            expect(entry["trace_id"] == r.headers["x-tps-trace-id"], "trace id not the platform's")
            expect(json.loads(entry["body"])["content"] == "回复", entry["body"])
            # A platform error comes back as the platform gave it.
            r = call(api_port, "POST", "/v2/users/U1/messages", {"content": "x", "msg_type": 0}, bearer)
            expect(r.status == 400 and r.json["code"] == 40034102, r)
        checks.run("a request goes to the platform with the relay's token and X-Union-Appid, the answer comes back",
                   forwarded_with_the_relays_token)

        def msg_seq_for_passive_replies():
            clear()
            results = []

            def reply(i):
                results.append(call(api_port, "POST", "/v2/users/U2/messages",
                                    {"content": f"part {i}", "msg_type": 0, "msg_id": "M-seq-1"}, bearer))
            # Three at once: as many as max_in_flight (2) and max_queued (1) take.
            threads = [threading.Thread(target=reply, args=(i,)) for i in range(3)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
            expect([r.status for r in results] == [200] * 3, results)
            seqs = sorted(json.loads(e["body"])["msg_seq"] for e in recorded())
            expect(seqs == [1, 2, 3], f"msg_seq {seqs}")
            # A client that sets msg_seq itself is forwarded untouched, and later automatic ones go past it.
            r = call(api_port, "POST", "/v2/users/U2/messages",
                     {"content": "own", "msg_type": 0, "msg_id": "M-seq-2", "msg_seq": 3}, bearer)
            expect(r.status == 200, r)
            r = call(api_port, "POST", "/v2/users/U2/messages",
                     {"content": "auto", "msg_type": 0, "msg_id": "M-seq-2"}, bearer)
            expect(r.status == 200 and json.loads(recorded()[-1]["body"])["msg_seq"] == 4, recorded()[-1])
        checks.run("passive replies without msg_seq get 1, 2, 3 when sent at once; a chosen msg_seq is kept",
                   msg_seq_for_passive_replies)

        def sdk_token_exchange():
            r = call(api_port, "POST", "/app/getAppAccessToken", {"appId": APP_ID, "clientSecret": KEY_B})
            expect(r.status == 200 and r.json["expires_in"] == "7200", r)
            token = r.json["access_token"]
            again = call(api_port, "POST", "/app/getAppAccessToken", {"appId": APP_ID, "clientSecret": KEY_B})
            expect(again.json["access_token"] == token, "asking again gave another token")
            r = call(api_port, "GET", "/users/@me", headers={"Authorization": "QQBot " + token,
                                                             "X-Union-Appid": APP_ID})
            expect(r.status == 200 and r.json["id"], r)
            for body in ({"appId": APP_ID, "clientSecret": "wrong" * 8}, {"appId": "1", "clientSecret": KEY_B}):
                r = call(api_port, "POST", "/app/getAppAccessToken", body)
                expect(r.status == 401, r)
            return token
        checks.run("an SDK exchanges its key for a token at /app/getAppAccessToken and calls with QQBot <token>",
                   sdk_token_exchange)

        def expired_token_refreshed_and_sent_once_more():
            clear()
            before = len(relay_token())
            fault(kind="api_token_expired")
            r = call(api_port, "POST", "/v2/groups/G2/messages", {"content": "t", "msg_type": 0, "msg_id": "M-tok"},
                     bearer)
            expect(r.status == 200, r)
            entries = recorded()
            expect(len(entries) == 2 and entries[0]["status"] == 401 and entries[1]["status"] == 200, entries)
            expect(len(relay_token()) == before + 1, "no new token was fetched")
            expect(json.loads(entries[0]["body"]) == json.loads(entries[1]["body"]), "the resend changed the body")
        checks.run("11244 makes the relay fetch a new token and send the same request once more",
                   expired_token_refreshed_and_sent_once_more)

        def no_resend_of_a_post_after_a_reset():
            clear()
            fault(kind="api_reset")
            r = call(api_port, "POST", "/v2/groups/G3/messages", {"content": "r", "msg_type": 0, "msg_id": "M-rst"},
                     bearer)
            expect(r.status == 502 and "did not answer" in r.json["message"], r)
            expect(len(recorded()) == 1, f"a POST was sent again: {recorded()}")
            clear()
            fault(kind="api_reset")
            r = call(api_port, "GET", "/users/@me", headers=bearer)
            expect(r.status == 200, r)
            expect(len(recorded()) == 2, f"a GET after a reset: {recorded()}")
        checks.run("after a connection reset a POST is answered 502, never sent twice; a GET is sent once more",
                   no_resend_of_a_post_after_a_reset)

        def multipart_and_large_bodies_byte_for_byte():
            clear()
            boundary = "relay-test-boundary-42"
            image = bytes(range(256)) * 64
            body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"content\"\r\n\r\nhi\r\n"
                    f"--{boundary}\r\nContent-Disposition: form-data; name=\"msg_id\"\r\n\r\nM-mp\r\n"
                    f"--{boundary}\r\nContent-Disposition: form-data; name=\"file_image\"; filename=\"a.png\"\r\n"
                    f"Content-Type: image/png\r\n\r\n").encode() + image + f"\r\n--{boundary}--\r\n".encode()
            r = call(api_port, "POST", "/channels/C1/messages", raw=body, headers=bearer,
                     content_type=f"multipart/form-data; boundary={boundary}")
            expect(r.status == 200, r)
            [entry] = recorded()
            expect(entry["headers"]["content-type"] == f"multipart/form-data; boundary={boundary}", entry["headers"])
            expect(base64.b64decode(entry["body"]) == body, "the multipart body changed on the way")
            clear()
            big = {"file_type": 1, "srv_send_msg": False,
                   "file_data": base64.b64encode(os.urandom(7_500_000)).decode()}
            raw = json.dumps(big).encode()
            expect(len(raw) >= 10_000_000, len(raw))
            r = call(api_port, "POST", "/v2/users/U3/files", raw=raw, headers=bearer, timeout=60)
            expect(r.status == 200 and "file_info" in r.json, r)
            [entry] = recorded()
            expect(entry["body"].encode() == raw, "the 10 MiB body changed on the way")
        checks.run("multipart and a 10 MiB upload reach the platform byte for byte", multipart_and_large_bodies_byte_for_byte)

        def in_flight_bounded():
            clear()
            fault(kind="api_slow", delay_ms=2000, count=3)
            results = {}

            def slow(i):
                results[i] = call(api_port, "GET", "/users/@me", headers=bearer)
            threads = [threading.Thread(target=slow, args=(i,)) for i in range(3)]
            for t in threads:
                t.start()
            # max_in_flight 2 and max_queued 1: two at the platform, one waiting, and a fourth is refused.
            wait_for(lambda: metric("qq_relay_api_in_flight") == 2 and metric("qq_relay_api_queued") == 1, 10,
                     "two in flight and one queued")
            refused = call(api_port, "GET", "/users/@me", headers=bearer)
            expect(refused.status == 503 and refused.headers.get("retry-after") == "1", refused)
            for t in threads:
                t.join(30)
            expect(sorted(r.status for r in results.values()) == [200, 200, 200], results)
            expect(metric("qq_relay_api_in_flight") == 0 and metric("qq_relay_api_queued") == 0, "not drained")
        checks.run("max_in_flight and a bounded queue: past them 503 with Retry-After, the others are answered",
                   in_flight_bounded)

        def revoked_on_sighup():
            r = call(api_port, "POST", "/app/getAppAccessToken", {"appId": APP_ID, "clientSecret": KEY_B})
            token = r.json["access_token"]
            with open(clients_file, "w") as f:
                f.write(f"echo-bot {KEY_A}\n")
            # A clients file others may read is warned about (at start it was 0600: no warning then).
            expect("api.clients_file" not in relay.log_text(), "a warning about a 0600 clients file")
            os.chmod(clients_file, 0o644)
            reloads = metric('qq_relay_config_reloads_total{result="applied"}')
            relay.proc.send_signal(signal.SIGHUP)
            wait_for(lambda: metric('qq_relay_config_reloads_total{result="applied"}') == reloads + 1, 10,
                     "the reload")
            r = call(api_port, "GET", "/users/@me", headers={"Authorization": "QQBot " + token})
            expect(r.status == 401, f"a revoked client's token still works: {r}")
            r = call(api_port, "GET", "/users/@me", headers={"Authorization": "Bearer " + KEY_B})
            expect(r.status == 401, f"a revoked key still works: {r}")
            expect(call(api_port, "GET", "/users/@me", headers=bearer).status == 200, "the kept client")
            log = relay.log_text()
            expect(KEY_A not in log and KEY_B not in log and token not in log, "a key or token in the log")
            expect(f"api.clients_file: {clients_file} is readable by every user (mode 0644)" in log,
                   "no warning about a clients file every user can read")
        checks.run("SIGHUP re-reads the clients file: a removed client's key and tokens stop at once; none is logged; "
                   "a file others can read is warned about",
                   revoked_on_sighup)

        def keep_alive_and_pipelining():
            with socket.create_connection(("127.0.0.1", api_port), timeout=10) as s:
                request = (f"GET /users/@me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY_A}\r\n\r\n" * 2).encode()
                s.sendall(request)
                data = b""
                while data.count(b"HTTP/1.1 200") < 2:
                    chunk = s.recv(65536)
                    expect(chunk, f"closed after {data!r}")
                    data += chunk
        checks.run("two pipelined requests on one kept-alive connection get two answers", keep_alive_and_pipelining)

        def trickling_client_stalls_no_one():
            with socket.create_connection(("127.0.0.1", api_port), timeout=10) as slow:
                slow.sendall(f"POST /v2/groups/G9/messages HTTP/1.1\r\nHost: relay\r\nAuthorization: Bearer {KEY_A}\r\n"
                             "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"con".encode())
                for _ in range(3):
                    expect(call(api_port, "GET", "/users/@me", headers=bearer).status == 200, "served meanwhile")
                    slow.sendall(b"t")
        checks.run("a client trickling its body holds only its own connection", trickling_client_stalls_no_one)

        def two_hundred_clients():
            results = []
            lock = threading.Lock()

            def one():
                try:
                    r = call(api_port, "GET", "/users/@me", headers=bearer, timeout=30)
                    with lock:
                        results.append((r.status, r.headers.get("retry-after")))
                except OSError as error:
                    with lock:
                        results.append((str(error), None))
            threads = [threading.Thread(target=one) for _ in range(200)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            statuses = sorted({status for status, _ in results}, key=str)
            print(f"  200 clients: {sum(1 for s, _ in results if s == 200)} answered 200, "
                  f"{sum(1 for s, _ in results if s == 503)} 503", flush=True)
            expect(len(results) == 200, f"{len(results)} answers")
            expect(set(statuses) <= {200, 503}, statuses)
            expect(all(retry == "1" for status, retry in results if status == 503), "503 without Retry-After")
            expect(metric("qq_relay_api_in_flight") == 0 and metric("qq_relay_api_queued") == 0, "not drained")
        checks.run("200 clients at once: each answered 200 or 503 with Retry-After, nothing left in flight",
                   two_hundred_clients)

        def no_platform_token_in_the_log():
            entries = recorded() or [{"headers": {"authorization": None}}]
            sent = entries[-1]["headers"]["authorization"]
            log = relay.log_text()
            expect(sent and sent.split(" ", 1)[1] not in log, "the relay's access token is in its log")
            expect("sim-secret" not in log, "the AppSecret is in the log")
        checks.run("at trace level the log holds no access token and no AppSecret", no_platform_token_in_the_log)

        def third_party_sdk_sends():
            clear()
            result = subprocess.run(
                [shutil.which("node") or "node", os.path.join(SDK_DIR, "official_bot_send.cjs"),
                 f"http://127.0.0.1:{api_port}", APP_ID, KEY_A, "G-SDK", "M-SDK-1", "来自 SDK 的回复"],
                capture_output=True, text=True, timeout=60)
            expect(result.returncode == 0, f"the SDK failed: {result.stdout} {result.stderr}")
            entries = [e for e in recorded() if e["path"] == "/v2/groups/G-SDK/messages"]
            expect(len(entries) == 1 and entries[0]["status"] == 200, entries)
            body = json.loads(entries[0]["body"])
            # This SDK picks a random msg_seq itself: the relay forwards a chosen msg_seq untouched.
            expect(body["content"] == "来自 SDK 的回复" and body["msg_id"] == "M-SDK-1" and "msg_seq" in body, body)
            sent = entries[0]["headers"]["authorization"]
            expect(sent.startswith("QQBot ") and KEY_A not in sent, sent)
            expect(json.loads(result.stdout.strip().splitlines()[-1])["id"], result.stdout)
        def every_method_forwarded():
            clear()
            for method, path, body in (("DELETE", "/v2/groups/G5/messages/M5", None),
                                       ("PUT", "/interactions/I5", {"code": 0}),
                                       ("PATCH", "/channels/C5/messages/M6", {"content": "edit"})):
                r = call(api_port, method, path, body, bearer)
                expect(r.status < 500, f"{method} {path}: {r}")
            got = [(e["method"], e["path"], json.loads(e["body"]) if e["body"] else None) for e in recorded()]
            expect(got == [("DELETE", "/v2/groups/G5/messages/M5", None), ("PUT", "/interactions/I5", {"code": 0}),
                           ("PATCH", "/channels/C5/messages/M6", {"content": "edit"})], got)
        checks.run("DELETE, PUT and PATCH reach the platform with their method, path and body", every_method_forwarded)

        if os.path.isdir(os.path.join(SDK_DIR, "node_modules", "qq-official-bot")):
            checks.run("qq-official-bot from npm, unmodified, exchanges its key at the relay and sends a reply the "
                       "platform records", third_party_sdk_sends)
        else:
            print("SKIP qq-official-bot: tests/sdk/node_modules is missing (scripts/install-deps.sh)", flush=True)
        def platform_down_then_back():
            port = sim.port
            sim.stop()
            for method, body in (("GET", None), ("POST", {"content": "x", "msg_type": 0, "msg_id": "M-down"})):
                r = call(api_port, method, "/v2/groups/G7/messages" if body else "/users/@me", body, bearer)
                expect(r.status == 503 and r.headers.get("retry-after") == "1" and "nothing was sent" in r.json["message"],
                       f"{method} while the platform is down: {r}")
            # A new platform on the same address does not know the relay's token: 11244, a new token, the request
            # once more.
            back = Sim(tmp, "--shards", "1", "--port", str(port))
            later.append(back)
            r = call(api_port, "GET", "/users/@me", headers=bearer)
            expect(r.status == 200, f"after the platform came back: {r}")
        checks.run("the platform down: 503 with Retry-After and nothing sent, and served again once it is back",
                   platform_down_then_back)
        expect(relay.proc.poll() is None, "the relay died")
    finally:
        tear_down(checks, tmp, relay, sim, *later)
    checks.finish()


if __name__ == "__main__":
    main()
