#!/usr/bin/python3
"""qq-gateway-sim webhook delivery (SPEC 11): signed POSTs to a Python receiver, over HTTP and HTTPS.

Checks the signature against the key derived from the secret, the headers, byte-for-byte bodies, the signature
faults, repeats, op 13 validation, the results API, the in-flight limit, the queue bound, the 10 s timeout and
the --webhook-url form of --rate.
Environment: QQ_SIM_BIN, QQ_TEST_DATA. Needs python3-cryptography.
"""
import http.server
import json
import os
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from harness import FIXTURES, Checks, Sim, expect, tear_down, wait_for, workdir

SECRET = "sim-secret"
APP_ID = "102000000"


def public_key(secret):
    seed = (secret.encode() * 32)[:32]
    return Ed25519PrivateKey.from_private_bytes(seed).public_key()


def verifies(secret, signature_hex, timestamp, body):
    try:
        public_key(secret).verify(bytes.fromhex(signature_hex), timestamp.encode() + body)
        return True
    except (InvalidSignature, ValueError):
        return False


class Receiver:
    """An HTTP(S) webhook receiver that records every request. A path ending in /status/<code> is answered
    with that status and the body {"status":<code>}; any other path gets 200 with the op 12 ACK, except an op
    13 request, which gets the validation answer."""

    def __init__(self, tls_context=None):
        self.requests = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    receiver.requests.append({"path": self.path, "headers": list(self.headers.items()),
                                              "body": body})
                status, answer = 200, b'{"op":12,"d":0}'
                if "/status/" in self.path:
                    status = int(self.path.rsplit("/", 1)[1])
                    answer = json.dumps({"status": status}).encode()
                elif body.startswith(b'{"d":{"plain_token"'):
                    d = json.loads(body)["d"]
                    seed = (SECRET.encode() * 32)[:32]
                    signature = Ed25519PrivateKey.from_private_bytes(seed).sign(
                        (d["event_ts"] + d["plain_token"]).encode())
                    answer = json.dumps({"plain_token": d["plain_token"], "signature": signature.hex()}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        class Server(http.server.ThreadingHTTPServer):
            request_queue_size = 128  # the sim opens up to 32 connections at once; the default backlog is 5

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        scheme = "http"
        if tls_context is not None:
            self.server.socket = tls_context.wrap_socket(self.server.socket, server_side=True)
            scheme = "https"
        self.base = f"{scheme}://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def at(self, path):
        with self.lock:
            return [r for r in self.requests if r["path"] == path]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Blackhole:
    """Accepts TCP connections and never answers; counts the connections open at once."""

    def __init__(self):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(256)
        self.port = self.listener.getsockname()[1]
        self.accepted = []
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        self.listener.settimeout(0.1)
        while self.running:
            try:
                conn, _ = self.listener.accept()
            except (socket.timeout, OSError):
                continue
            self.accepted.append(conn)

    def open_now(self):
        alive = 0
        for conn in list(self.accepted):
            try:
                conn.setblocking(False)
                alive += conn.recv(65536, socket.MSG_PEEK) != b""
            except BlockingIOError:
                alive += 1
            except OSError:
                pass
        return alive

    def close(self):
        self.running = False
        self.thread.join()
        for conn in self.accepted:
            conn.close()
        self.listener.close()


def control(sim, path, body):
    """POST to the control API with a raw or JSON body; returns (status, reply)."""
    data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    req = urllib.request.Request(sim.base + path, data=data, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def webhook(sim, body):
    status, reply = control(sim, "/_sim/webhook", body)
    expect(status == 200, f"/_sim/webhook answered {status}: {reply}")
    return reply


def results(sim, delivery=None):
    reply = sim.get("/_sim/webhook/results")
    if delivery is None:
        return reply
    return [r for r in reply["results"] if r["delivery"] == delivery]


def settle(sim):
    wait_for(lambda: sim.get("/_sim/webhook/results")["pending"] == 0, 15, "every webhook POST to finish")


def header(request, name):
    values = [v for k, v in request["headers"] if k.lower() == name.lower()]
    expect(len(values) <= 1, f"header {name} sent {len(values)} times")
    return values[0] if values else None


def check_standard_headers(request, body):
    expect(header(request, "Content-Type") == "application/json", "Content-Type")
    expect(header(request, "User-Agent") == "QQBot-Callback", f"User-Agent {header(request, 'User-Agent')}")
    expect(header(request, "X-Bot-Appid") == APP_ID, "X-Bot-Appid")
    expect(header(request, "Content-Length") == str(len(body)), "Content-Length")


def check_signed(request, secret=SECRET):
    body = request["body"]
    check_standard_headers(request, body)
    timestamp = header(request, "X-Signature-Timestamp")
    signature = header(request, "X-Signature-Ed25519")
    expect(timestamp is not None and signature is not None, "signature headers missing")
    expect(len(signature) == 128 and signature == signature.lower(), f"signature not lowercase hex: {signature}")
    expect(verifies(secret, signature, timestamp, body), "signature does not verify")
    return timestamp


def subdir(tmp, name):
    """Each simulator gets its own directory: Sim names its port file and log after the directory only."""
    path = os.path.join(tmp, name)
    os.makedirs(path, exist_ok=True)
    return path


def main():
    checks = Checks()
    tmp = workdir()
    receiver = Receiver()
    blackhole = Blackhole()
    parts = [receiver, blackhole]
    sim = Sim(tmp, "--fixtures", FIXTURES)
    parts.append(sim)
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ed25519", "-keyout", key, "-out", cert, "-nodes",
                    "-subj", "/CN=localhost", "-days", "1"], check=True, capture_output=True)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    tls_receiver = Receiver(tls)
    parts.append(tls_receiver)
    # Started first, checked last: ten seconds of hanging POSTs overlap the other checks.
    hang_sim = Sim(subdir(tmp, "hang"), "--log-limit", "1000")
    parts.append(hang_sim)
    hang = {}

    def event_delivery():
        url = receiver.base + "/event"
        # Raw text: d must arrive byte for byte (spacing, key order, a number beyond 2^53, non-ASCII).
        d = '{ "content" : "你好 \\u263a",  "guild_id":47129941624960822123, "z":1,"a":[ 1 ,2] }'
        reply = webhook(sim, '{"url":"%s","t":"AT_MESSAGE_CREATE","id":"evt-1","d":%s}' % (url, d))
        expect(reply["scheduled"] == 1 and len(reply["bodies"]) == 1, reply)
        body = reply["bodies"][0]
        expect(body == '{"op":0,"id":"evt-1","t":"AT_MESSAGE_CREATE","d":' + d + '}', body)
        settle(sim)
        got = receiver.at("/event")
        expect(len(got) == 1, f"{len(got)} requests")
        expect(got[0]["body"] == body.encode(), "body changed on the way")
        timestamp = check_signed(got[0])
        expect(abs(int(timestamp) - time.time()) < 10, f"timestamp {timestamp} is not now")
        done = results(sim, reply["delivery"])
        expect(len(done) == 1 and done[0]["status"] == 200 and done[0]["error"] is None, done)
        expect(done[0]["response"] == '{"op":12,"d":0}' and done[0]["body"] == body, done)
        expect(done[0]["at_us"] > 0, done)
        # Without an id the sim makes "<t>:<uuid>".
        reply = webhook(sim, {"url": url, "t": "GROUP_AT_MESSAGE_CREATE", "d": {}})
        envelope = json.loads(reply["bodies"][0])
        expect(envelope["id"].startswith("GROUP_AT_MESSAGE_CREATE:") and len(envelope["id"]) == 24 + 36, envelope)
        expect(list(envelope) == ["op", "id", "t", "d"], envelope)
        settle(sim)

    def generated_events():
        url = receiver.base + "/generate"
        first = webhook(sim, {"url": url, "generate": 3})
        second = webhook(sim, {"url": url, "generate": 2, "size": 500})
        expect(first["scheduled"] == 3 and second["scheduled"] == 2, (first, second))
        bodies = first["bodies"] + second["bodies"]
        events = [json.loads(b) for b in bodies]
        expect([e["d"]["seq_no"] for e in events] == [1, 2, 3, 4, 5], [e["d"]["seq_no"] for e in events])
        for e in events:
            expect(e["op"] == 0 and e["t"] == "C2C_MESSAGE_CREATE" and "s" not in e, e)
            expect(e["d"]["content"].startswith(f"event webhook-{e['d']['seq_no']}"), e["d"]["content"])
        expect(abs(len(bodies[4]) - 500) < 20, f"size 500 gave {len(bodies[4])} bytes")
        settle(sim)
        got = receiver.at("/generate")
        expect(sorted(r["body"] for r in got) == sorted(b.encode() for b in bodies), "bodies differ")
        for request in got:
            check_signed(request)

    def fixtures():
        url = receiver.base + "/fixtures"
        loaded = sim.get("/_sim/state")["fixtures"]
        expect(loaded > 10, f"{loaded} fixtures loaded")
        reply = webhook(sim, {"url": url, "fixtures": True})
        expect(reply["scheduled"] == loaded and len(reply["bodies"]) == loaded, reply["scheduled"])
        settle(sim)
        got = receiver.at("/fixtures")
        expect(sorted(r["body"] for r in got) == sorted(b.encode() for b in reply["bodies"]), "bodies differ")
        for request in got:
            check_signed(request)
        # d is the fixture's raw d.
        with open(os.path.join(FIXTURES, "c2c_message_create.json")) as f:
            fixture = json.load(f)
        match = [json.loads(b) for b in reply["bodies"] if json.loads(b)["t"] == fixture["t"]]
        expect(any(m["d"] == fixture["d"] for m in match), "c2c_message_create.json not delivered")

    def signature_faults():
        for mode in ("bad", "missing", "malformed"):
            reply = webhook(sim, {"url": receiver.base + "/" + mode, "t": "X", "d": {"mode": mode},
                                  "signature": mode})
            settle(sim)
            (request,) = receiver.at("/" + mode)
            expect(request["body"] == reply["bodies"][0].encode(), mode)
            check_standard_headers(request, request["body"])
            signature = header(request, "X-Signature-Ed25519")
            timestamp = header(request, "X-Signature-Timestamp")
            if mode == "missing":
                expect(signature is None and timestamp is None, (signature, timestamp))
            elif mode == "malformed":
                expect(signature == "xyz" and timestamp is not None, (signature, timestamp))
            else:
                expect(len(signature) == 128 and int(signature, 16) >= 0, signature)
                expect(bytes.fromhex(signature)[63] & 0xE0 == 0, "bad signature is not canonical")
                expect(not verifies(SECRET, signature, timestamp, request["body"]), "bad signature verifies")

    def timestamp_and_secret():
        webhook(sim, {"url": receiver.base + "/stale", "t": "X", "d": {}, "timestamp": 1000})
        webhook(sim, {"url": receiver.base + "/other", "t": "X", "d": {}, "secret": "another-secret"})
        settle(sim)
        (stale,) = receiver.at("/stale")
        expect(check_signed(stale) == "1000", "timestamp override not used")
        (other,) = receiver.at("/other")
        expect(not verifies(SECRET, header(other, "X-Signature-Ed25519"), header(other, "X-Signature-Timestamp"),
                            other["body"]), "another secret verifies with sim-secret")
        check_signed(other, "another-secret")

    def repeat():
        reply = webhook(sim, {"url": receiver.base + "/repeat", "t": "X", "d": {"n": 1}, "repeat": 3})
        expect(reply["scheduled"] == 3 and len(reply["bodies"]) == 1, reply)
        settle(sim)
        got = receiver.at("/repeat")
        expect(len(got) == 3 and all(r["body"] == reply["bodies"][0].encode() for r in got), got)
        for request in got:
            check_signed(request)
        expect(len(results(sim, reply["delivery"])) == 3, "results")

    def validation():
        url = receiver.base + "/validation"
        reply = webhook(sim, {"url": url, "validation": {"plain_token": "Arq0D5A61EgUu4OxUvOp",
                                                          "event_ts": "1725442341"}})
        expected = '{"d":{"plain_token":"Arq0D5A61EgUu4OxUvOp","event_ts":"1725442341"},"op":13}'
        expect(reply["bodies"] == [expected], reply)
        settle(sim)
        (request,) = receiver.at("/validation")
        expect(request["body"] == expected.encode(), request["body"])
        check_standard_headers(request, request["body"])
        expect(header(request, "X-Signature-Ed25519") is None, "unsigned validation has a signature")
        answer = json.loads(results(sim, reply["delivery"])[0]["response"])
        expect(answer["plain_token"] == "Arq0D5A61EgUu4OxUvOp", answer)
        expect(verifies(SECRET, answer["signature"], "1725442341", b"Arq0D5A61EgUu4OxUvOp"), answer)
        # signed, and the defaults: a random 20-character token and the current time.
        reply = webhook(sim, {"url": url + "/signed", "validation": {}, "signed": True})
        d = json.loads(reply["bodies"][0])["d"]
        expect(len(d["plain_token"]) == 20 and abs(int(d["event_ts"]) - time.time()) < 10, d)
        settle(sim)
        (request,) = receiver.at("/validation/signed")
        check_signed(request)

    def results_api():
        base = receiver.base
        ok = webhook(sim, {"url": base + "/status/418", "t": "X", "d": {}})
        failed = webhook(sim, {"url": f"http://127.0.0.1:{blackhole_free_port}/x", "t": "X", "d": {}})
        settle(sim)
        (teapot,) = results(sim, ok["delivery"])
        expect(teapot["status"] == 418 and teapot["response"] == '{"status": 418}' and teapot["error"] is None,
               teapot)
        (refused,) = results(sim, failed["delivery"])
        expect(refused["status"] == 0 and refused["error"], refused)
        expect(refused["body"] == failed["bodies"][0], refused)
        status, reply = control(sim, "/_sim/webhook/results/clear", {})
        expect(status == 200 and reply == {"cleared": True}, reply)
        after = results(sim)
        expect(after["results"] == [] and after["pending"] == 0, after)

    def control_errors():
        cases = [
            ({"t": "X", "d": {}}, 400),  # no url and no --webhook-url
            ({"url": "ws://127.0.0.1:1/", "t": "X", "d": {}}, 400),
            ({"url": receiver.base, "t": "X"}, 400),
            ({"url": receiver.base, "t": "X", "d": {}, "generate": 1}, 400),
            ({"url": receiver.base}, 400),
            ({"url": receiver.base, "t": "X", "d": {}, "signature": "weird"}, 400),
            ({"url": receiver.base, "t": "X", "d": {}, "repeat": 0}, 400),
            ({"url": receiver.base, "t": "X", "d": {}, "secret": ""}, 400),
            ({"url": receiver.base, "t": "X", "d": {}, "timestamp": "soon"}, 400),
            ({"url": receiver.base, "validation": {"plain_token": 5}}, 400),
        ]
        for body, want in cases:
            status, reply = control(sim, "/_sim/webhook", body)
            expect(status == want and "error" in reply, f"{body} -> {status} {reply}")
        status, _ = control(sim, "/_sim/webhook/results", {})
        expect(status == 405, status)

    def https():
        reply = webhook(sim, {"url": tls_receiver.base + "/tls", "t": "X", "d": {"tls": True}})
        settle(sim)
        got = tls_receiver.at("/tls")
        expect(len(got) == 1 and got[0]["body"] == reply["bodies"][0].encode(), got)
        check_signed(got[0])
        (done,) = results(sim, reply["delivery"])
        expect(done["status"] == 200, done)

    def in_flight_limit_and_queue_bound():
        url = f"http://127.0.0.1:{blackhole.port}/hang"
        status, reply = control(hang_sim, "/_sim/webhook", {"url": url, "t": "HANG", "d": {}, "repeat": 100000})
        expect(status == 200 and reply["scheduled"] == 100000, (status, reply))
        hang["delivery"] = reply["delivery"]
        hang["started"] = time.monotonic()
        status, reply = control(hang_sim, "/_sim/webhook", {"url": url, "t": "HANG", "d": {}, "repeat": 100})
        expect(status == 429 and "error" in reply, (status, reply))
        wait_for(lambda: blackhole.open_now() == 32, 10, "32 POSTs in flight")
        time.sleep(0.5)
        expect(blackhole.open_now() == 32 and len(blackhole.accepted) == 32,
               f"{len(blackhole.accepted)} connections for a limit of 32")
        expect(results(hang_sim)["pending"] == 100000, results(hang_sim)["pending"])

    def timeout():
        done = wait_for(lambda: [r for r in results(hang_sim, hang["delivery"])] or None, 15, "timed-out POSTs")
        elapsed = time.monotonic() - hang["started"]
        expect(9 <= elapsed, f"a POST finished after {elapsed:.1f} s")
        time.sleep(0.3)
        done = results(hang_sim, hang["delivery"])
        expect(len(done) == 32, f"{len(done)} results")
        expect(all(r["status"] == 0 and "timed out" in r["error"] for r in done), done[0])
        wait_for(lambda: len(blackhole.accepted) == 64, 5, "the next 32 POSTs")

    def rate():
        rate_sim = Sim(subdir(tmp, "rate"), "--webhook-url", receiver.base + "/rate", "--rate", "50")
        try:
            started = time.monotonic()
            wait_for(lambda: len(receiver.at("/rate")) >= 40, 10, "40 generated webhook events")
            rate_sim.post("/_sim/config", {"rate": 0})
            elapsed = time.monotonic() - started
            settle(rate_sim)
            got = receiver.at("/rate")
            events = [json.loads(r["body"]) for r in got]
            seq = [e["d"]["seq_no"] for e in events]
            expect(sorted(seq) == list(range(1, len(seq) + 1)), f"seq_no {seq}")
            expect(len(seq) <= 50 * elapsed + 10, f"{len(seq)} events in {elapsed:.1f} s at rate 50")
            for request, event in zip(got, events):
                check_signed(request)
                expect(event["d"]["content"].startswith(f"event webhook-{event['d']['seq_no']}"), event)
            done = results(rate_sim, 0)
            expect(len(done) == len(got) and all(r["status"] == 200 for r in done), len(done))
            # POST /_sim/webhook defaults to --webhook-url; generate continues the same counter.
            reply = webhook(rate_sim, {"generate": 1})
            expect(json.loads(reply["bodies"][0])["d"]["seq_no"] == len(seq) + 1, reply)
            settle(rate_sim)
            expect(len(receiver.at("/rate")) == len(seq) + 1, "default url not used")
        finally:
            rate_sim.stop()

    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    blackhole_free_port = probe.getsockname()[1]
    probe.close()  # nothing listens there any more: connections are refused

    checks.run("in-flight limit (32) and queue bound (429)", in_flight_limit_and_queue_bound)
    checks.run("event: signed, all headers, body byte for byte", event_delivery)
    checks.run("generate: numbered C2C events, signed", generated_events)
    checks.run("fixtures: every loaded fixture", fixtures)
    checks.run("signature bad / missing / malformed", signature_faults)
    checks.run("timestamp override and another secret", timestamp_and_secret)
    checks.run("repeat sends identical bodies", repeat)
    checks.run("op 13 validation request", validation)
    checks.run("results: status, response, errors, clear", results_api)
    checks.run("control API errors", control_errors)
    checks.run("https to a self-signed receiver", https)
    checks.run("--webhook-url with --rate 50", rate)
    checks.run("10 s timeout reports status 0", timeout)
    tear_down(checks, tmp, *reversed(parts))
    checks.finish()


if __name__ == "__main__":
    main()
