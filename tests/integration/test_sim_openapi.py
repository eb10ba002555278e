#!/usr/bin/python3
"""qq-gateway-sim's OpenAPI (docs/simulator.md, "OpenAPI"): the answers' shapes, Authorization, the passive-reply
rules (msg_seq once per msg_id, five replies, no active push), multipart and 10 MiB bodies, the api_* faults and
the request recording at /_sim/api/requests.
Environment: QQ_SIM_BIN.
"""
import base64
import http.client
import json
import os
import re
import socket
import threading
import time

from harness import Checks, Sim, expect, tear_down, wait_for, workdir

APP_ID = "102000000"
SECRET = "sim-secret"
TRACE = re.compile(r"^[0-9a-f]{32}$")


class Reply:
    def __init__(self, status, headers, raw):
        self.status = status
        self.headers = headers  # lower-cased names
        self.raw = raw
        self.json = json.loads(raw) if raw else None

    @property
    def trace(self):
        return self.headers.get("x-tps-trace-id")

    def __repr__(self):
        return f"Reply({self.status}, {self.raw[:300]!r})"


def call(sim, method, path, body=None, headers=None, raw=None, connection=None, timeout=20):
    """One request with http.client (on `connection` when given, so that keep-alive is exercised)."""
    data = raw if raw is not None else (json.dumps(body, ensure_ascii=False).encode() if body is not None else None)
    headers = dict(headers or {})
    if data is not None and "Content-Type" not in headers:
        headers["Content-Type"] = "application/json"
    conn = connection or http.client.HTTPConnection("127.0.0.1", sim.port, timeout=timeout)
    try:
        conn.request(method, path, body=data, headers=headers)
        response = conn.getresponse()
        raw_reply = response.read()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, raw_reply)
    finally:
        if connection is None:
            conn.close()


def token(sim):
    reply = call(sim, "POST", "/app/getAppAccessToken", {"appId": APP_ID, "clientSecret": SECRET})
    expect(reply.status == 200, reply)
    return reply.json["access_token"]


def auth(sim):
    return {"Authorization": "QQBot " + token(sim), "X-Union-Appid": APP_ID}


def control(sim, path, body):
    reply = call(sim, "POST", path, body)
    expect(reply.status == 200, f"{path}: {reply}")
    return reply.json


def fault(sim, **body):
    return control(sim, "/_sim/fault", body)


def recorded(sim):
    reply = call(sim, "GET", "/_sim/api/requests")
    expect(reply.status == 200, reply)
    return reply.json


def expect_error(reply, status, code):
    expect(reply.status == status, f"status {reply.status}, wanted {status}: {reply}")
    body = reply.json
    expect(set(body) == {"code", "message", "err_code", "trace_id"}, body)
    expect(body["code"] == code and body["err_code"] == code, f"code {body['code']}, wanted {code}")
    expect(body["trace_id"] == reply.trace and TRACE.match(reply.trace), (body, reply.trace))


def multipart(fields, boundary="sim-test-boundary-7d1"):
    """fields: (name, value bytes, filename or None, content type or None)."""
    out = b""
    for name, value, filename, content_type in fields:
        out += f"--{boundary}\r\n".encode()
        disposition = f'Content-Disposition: form-data; name="{name}"'
        if filename:
            disposition += f'; filename="{filename}"'
        out += disposition.encode() + b"\r\n"
        if content_type:
            out += f"Content-Type: {content_type}\r\n".encode()
        out += b"\r\n" + value + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return out, f"multipart/form-data; boundary={boundary}"


def main():
    checks = Checks()
    tmp = workdir()
    sim = Sim(os.path.join(tmp), "--bot-token", "static-token")
    small_dir = os.path.join(tmp, "small")
    os.makedirs(small_dir)
    small = Sim(small_dir, "--log-limit", "3")
    parts = [sim, small]
    counter = iter(range(1, 1_000_000))

    def fresh(prefix="msg"):
        return f"{prefix}-{next(counter)}"

    def shapes():
        h = auth(sim)
        for path in ("/v2/users/OPENID1/messages", "/v2/groups/GROUP1/messages"):
            r = call(sim, "POST", path, {"content": "hi", "msg_type": 0, "msg_id": fresh()}, h)
            expect(r.status == 200 and set(r.json) == {"id", "timestamp"}, r)
            expect(isinstance(r.json["id"], str) and r.json["id"], r)
            expect(isinstance(r.json["timestamp"], int) and abs(r.json["timestamp"] - time.time()) < 60, r)
            expect(TRACE.match(r.trace or ""), r.headers)
        # Guild channel and DM: a Message object.
        r = call(sim, "POST", "/channels/CHAN1/messages", {"content": "to a channel", "msg_id": fresh()}, h)
        expect(r.status == 200, r)
        for key in ("id", "channel_id", "guild_id", "content", "timestamp", "author"):
            expect(key in r.json, f"{key} missing in {r.json}")
        expect(r.json["channel_id"] == "CHAN1" and r.json["content"] == "to a channel", r)
        expect(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$", r.json["timestamp"]), r)
        expect(r.json["author"]["bot"] is True, r)
        dms = call(sim, "POST", "/users/@me/dms", {"recipient_id": "USER1", "source_guild_id": "GUILD1"}, h)
        expect(dms.status == 200 and set(dms.json) == {"guild_id", "channel_id", "create_time"}, dms)
        r = call(sim, "POST", f"/dms/{dms.json['guild_id']}/messages", {"content": "psst"}, h)
        expect(r.status == 200 and r.json["guild_id"] == dms.json["guild_id"], r)
        expect(r.json["channel_id"] == dms.json["channel_id"] and r.json["content"] == "psst", r)
        # Rich media: {file_uuid, file_info, ttl} and id only with srv_send_msg.
        for path in ("/v2/users/OPENID1/files", "/v2/groups/GROUP1/files"):
            r = call(sim, "POST", path, {"file_type": 1, "url": "https://example.com/a.png", "srv_send_msg": False}, h)
            expect(r.status == 200 and set(r.json) == {"file_uuid", "file_info", "ttl"}, r)
            expect(isinstance(r.json["ttl"], int), r)
            r = call(sim, "POST", path, {"file_type": 1, "url": "https://example.com/a.png", "srv_send_msg": True}, h)
            expect(r.status == 200 and set(r.json) == {"file_uuid", "file_info", "ttl", "id"}, r)
            r = call(sim, "POST", path, {"file_type": 9, "url": "x"}, h)
            expect_error(r, 400, 400)
        # Recall: 200 for each of the four kinds.
        for path in ("/v2/users/OPENID1/messages/M1", "/v2/groups/GROUP1/messages/M2",
                     "/channels/CHAN1/messages/M3?hidetip=true", "/dms/GUILD9/messages/M4?hidetip=false"):
            r = call(sim, "DELETE", path, headers=h)
            expect(r.status == 200 and TRACE.match(r.trace or ""), (path, r))
        # /users/@me: id is a numeric string (BOTPY does int(id)).
        r = call(sim, "GET", "/users/@me", headers=h)
        expect(r.status == 200, r)
        expect(set(r.json) == {"id", "username", "avatar", "union_openid", "union_user_account"}, r)
        expect(r.json["id"].isdigit(), r)
        # Unknown paths keep their 404 (with a trace header now); a known path with the wrong method is 405.
        r = call(sim, "GET", "/guilds/123/channels", headers=h)
        expect(r.status == 404 and r.json == {"code": 404, "message": "not found"} and r.trace, r)
        r = call(sim, "GET", "/v2/users/OPENID1/messages", headers=h)
        expect_error(r, 405, 405)

    def unauthorized():
        good = token(sim)
        body = {"content": "x", "msg_type": 0, "msg_id": fresh()}
        for headers in ({},
                        {"Authorization": "QQBot not-a-token"},
                        {"Authorization": good},  # bare token
                        {"Authorization": "Bearer " + good},
                        {"Authorization": "QQBot " + good, "X-Union-Appid": "1"},
                        {"Authorization": "Bot 1.static-token"}):
            for method, path in (("POST", "/v2/users/O/messages"), ("GET", "/users/@me"),
                                 ("DELETE", "/channels/C/messages/M")):
                r = call(sim, method, path, body if method == "POST" else None, headers)
                expect_error(r, 401, 11244)
        # Without X-Union-Appid, a valid token is enough; the legacy token works when --bot-token is set.
        r = call(sim, "GET", "/users/@me", headers={"Authorization": "QQBot " + good})
        expect(r.status == 200, r)
        r = call(sim, "GET", "/users/@me", headers={"Authorization": f"Bot {APP_ID}.static-token"})
        expect(r.status == 200, r)
        r = call(small, "GET", "/users/@me", headers={"Authorization": f"Bot {APP_ID}.static-token"})
        expect_error(r, 401, 11244)  # that sim has no --bot-token
        # An expired token: 11244.
        fault(sim, kind="expire_token")
        r = call(sim, "GET", "/users/@me", headers={"Authorization": "QQBot " + good})
        expect_error(r, 401, 11244)
        r = call(sim, "GET", "/users/@me", headers=auth(sim))
        expect(r.status == 200, r)

    def passive_replies():
        h = auth(sim)
        for path in ("/v2/users/O2/messages", "/v2/groups/G2/messages"):
            msg_id = fresh()
            send = lambda **extra: call(sim, "POST", path, {"content": "r", "msg_type": 0, **extra}, h)  # noqa: E731
            expect(send(msg_id=msg_id).status == 200, "first reply")
            expect_error(send(msg_id=msg_id), 400, 40054005)             # msg_seq defaults to 1
            expect_error(send(msg_id=msg_id, msg_seq=1), 400, 40054005)  # the same pair
            r = send(msg_id=msg_id, msg_seq=1)
            expect(r.json["message"] == "消息被去重，请检查请求msgseq", r)
            for seq in (2, 3, 4, 5):
                r = send(msg_id=msg_id, msg_seq=seq)
                expect(r.status == 200, f"seq {seq}: {r}")
            expect_error(send(msg_id=msg_id, msg_seq=3), 400, 40054005)  # a repeat stays a repeat
            expect_error(send(msg_id=msg_id, msg_seq=6), 400, 22009)     # a sixth reply
            expect_error(send(msg_id=msg_id, msg_seq=7), 400, 22009)
            # Another msg_id is independent; event_id counts like msg_id; no reference at all is active push.
            expect(send(msg_id=fresh(), msg_seq=1).status == 200, "another msg_id")
            event_id = fresh("event")
            expect(send(event_id=event_id).status == 200, "event_id reply")
            expect_error(send(event_id=event_id), 400, 40054005)
            expect(send(event_id=event_id, msg_seq=2).status == 200, "event_id, msg_seq 2")
            expect_error(send(), 400, 40034102)
            expect_error(send(msg_id=fresh(), msg_seq="1"), 400, 400)
        # Guild channels have no msg_seq rule (LangBot#2294): the same msg_id twice is fine.
        msg_id = fresh()
        for _ in range(7):
            r = call(sim, "POST", "/channels/C2/messages", {"content": "again", "msg_id": msg_id}, h)
            expect(r.status == 200, r)

    def multipart_channel():
        h = auth(sim)
        image = bytes(range(256)) * 64 + b"\xff\xfe\x00not utf-8"
        body, content_type = multipart([("content", "多部分 hello".encode(), None, None),
                                        ("msg_id", b"m-multipart", None, None),
                                        ("file_image", image, "a.png", "image/png")])
        call(sim, "POST", "/_sim/api/requests/clear", {})
        r = call(sim, "POST", "/channels/CHAN5/messages", headers={**h, "Content-Type": content_type}, raw=body)
        expect(r.status == 200 and r.json["content"] == "多部分 hello" and r.json["channel_id"] == "CHAN5", r)
        (entry,) = recorded(sim)["requests"]
        expect(entry["headers"]["content-type"] == content_type, entry["headers"])
        expect(entry["body_encoding"] == "base64" and base64.b64decode(entry["body"]) == body, "body not kept")
        expect(entry["body_bytes"] == len(body), entry["body_bytes"])
        # A multipart body with nothing to send, and a broken one.
        body, content_type = multipart([("msg_id", b"m", None, None)])
        r = call(sim, "POST", "/dms/G/messages", headers={**h, "Content-Type": content_type}, raw=body)
        expect_error(r, 400, 50006)
        r = call(sim, "POST", "/channels/C/messages", headers={**h, "Content-Type": content_type},
                 raw=b"--other\r\n\r\n")
        expect_error(r, 400, 400)
        r = call(sim, "POST", "/channels/C/messages", {"msg_id": "m"}, h)
        expect_error(r, 400, 50006)

    def large_bodies():
        h = auth(sim)
        for mib in (10, 21):
            data = base64.b64encode(os.urandom(mib * 1024 * 1024 * 3 // 4)).decode()
            body = json.dumps({"file_type": 1, "file_data": data, "srv_send_msg": False}).encode()
            expect(len(body) >= mib * 1024 * 1024 - 100, len(body))
            call(sim, "POST", "/_sim/api/requests/clear", {})
            r = call(sim, "POST", "/v2/groups/G3/files", headers=h, raw=body, timeout=60)
            expect(r.status == 200 and "file_info" in r.json, r)
            (entry,) = recorded(sim)["requests"]
            expect(entry["body_bytes"] == len(body) and entry["body"].encode() == body, f"{mib} MiB body changed")

    def expect_continue():
        # A client that sends "Expect: 100-continue" (curl does above 1 MiB) gets the interim answer first.
        body = json.dumps({"file_type": 1, "file_data": "QUJD" * 1000}).encode()
        head = (f"POST /v2/users/O8/files HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {auth(sim)['Authorization']}"
                f"\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                "Expect: 100-continue\r\n\r\n").encode()
        with socket.create_connection(("127.0.0.1", sim.port), timeout=5) as s:
            s.sendall(head)
            interim = s.recv(4096)
            expect(interim == b"HTTP/1.1 100 Continue\r\n\r\n", interim)
            s.sendall(body)
            answer = b""
            while b"file_uuid" not in answer:
                chunk = s.recv(65536)
                expect(chunk, f"closed after {answer!r}")
                answer += chunk
            expect(answer.startswith(b"HTTP/1.1 200 OK\r\n"), answer)

    def faults():
        h = auth(sim)
        c2c = lambda: call(sim, "POST", "/v2/users/O3/messages",  # noqa: E731
                           {"content": "f", "msg_type": 0, "msg_id": fresh()}, h)
        # 11244 with a valid token, for exactly `count` requests.
        reply = fault(sim, kind="api_token_expired", count=2)
        expect(reply["pending"] == [{"kind": "api_token_expired", "left": 2, "path_prefix": ""}], reply)
        expect_error(c2c(), 401, 11244)
        expect_error(call(sim, "GET", "/users/@me", headers=h), 401, 11244)
        expect(c2c().status == 200, "the fault applied to a third request")
        # The duplicate refusal, on a pair never used: the pair stays free.
        msg_id = fresh()
        fault(sim, kind="api_duplicate_seq")
        body = {"content": "d", "msg_type": 0, "msg_id": msg_id, "msg_seq": 1}
        expect_error(call(sim, "POST", "/v2/groups/G4/messages", body, h), 400, 40054005)
        expect(call(sim, "POST", "/v2/groups/G4/messages", body, h).status == 200, "pair taken by the fault")
        # 5xx with a platform body, and 429.
        fault(sim, kind="api_server_error", status=502, code=11242)
        expect_error(c2c(), 502, 11242)
        fault(sim, kind="api_server_error")
        expect_error(c2c(), 500, 500)
        fault(sim, kind="api_rate_limited")
        expect_error(c2c(), 429, 22009)
        # path_prefix: only matching paths consume the fault, oldest fault first.
        fault(sim, kind="api_rate_limited", path_prefix="/v2/groups/")
        fault(sim, kind="api_server_error", status=503)
        expect_error(call(sim, "GET", "/users/@me", headers=h), 503, 503)
        expect(call(sim, "GET", "/users/@me", headers=h).status == 200, "503 applied twice")
        expect_error(call(sim, "POST", "/v2/groups/G5/messages", {"msg_id": fresh(), "content": "x"}, h), 429, 22009)
        # Reset: no answer, the connection is reset; the next request is answered.
        fault(sim, kind="api_reset", path_prefix="/users/@me")
        try:
            call(sim, "GET", "/users/@me", headers=h)
            raise AssertionError("a reset request was answered")
        except ConnectionResetError as error:
            # RemoteDisconnected (a subclass) is an orderly close (FIN); a reset is ECONNRESET from recv.
            expect(not isinstance(error, http.client.RemoteDisconnected), f"closed without a reset: {error!r}")
        expect(call(sim, "GET", "/users/@me", headers=h).status == 200, "after the reset")
        entries = recorded(sim)["requests"]
        reset = [e for e in entries if e["fault"] == "api_reset"]
        expect(len(reset) == 1 and reset[0]["status"] == 0 and reset[0]["response"] == "", reset)
        # api_clear drops pending faults; bad parameters are refused.
        fault(sim, kind="api_server_error", count=5)
        reply = fault(sim, kind="api_clear")
        expect(reply["pending"] == [], reply)
        expect(c2c().status == 200, "api_clear")
        for bad in ({"kind": "api_slow", "delay_ms": 0}, {"kind": "api_server_error", "status": 404},
                    {"kind": "api_reset", "count": 0}, {"kind": "api_reset", "path_prefix": "v2"},
                    {"kind": "api_nonsense"}):
            r = call(sim, "POST", "/_sim/fault", bad)
            expect(r.status == 400 and "error" in r.json, (bad, r))
        expect(recorded(sim)["faults"] == [], "a refused fault was queued")

    def slow():
        h = auth(sim)
        fault(sim, kind="api_slow", delay_ms=1500, path_prefix="/v2/users/")
        done = threading.Event()
        result = {}

        def slow_request():
            started = time.monotonic()
            connection = http.client.HTTPConnection("127.0.0.1", sim.port, timeout=20)
            try:
                result["first"] = call(sim, "POST", "/v2/users/O6/messages",
                                       {"content": "s", "msg_type": 0, "msg_id": fresh()}, h, connection=connection)
                result["elapsed"] = time.monotonic() - started
                # Keep-alive: the same connection serves the next request after a delayed answer.
                result["second"] = call(sim, "GET", "/users/@me", headers=h, connection=connection)
            finally:
                connection.close()
                done.set()

        thread = threading.Thread(target=slow_request, daemon=True)
        thread.start()
        wait_for(lambda: any(e["fault"] == "api_slow" for e in recorded(sim)["requests"]), 10,
                 "the slow request to arrive")
        # While it waits, the simulator answers everything else: its loop is not blocked.
        for _ in range(5):
            expect(call(sim, "GET", "/users/@me", headers=h).status == 200, "answer during the delay")
        expect(not done.is_set(), "the slow answer came before the others")
        expect(done.wait(20), "the slow answer never came")
        expect(result["first"].status == 200 and 1.4 <= result["elapsed"] < 10, result)
        expect(result["second"].status == 200, result)
        (entry,) = [e for e in recorded(sim)["requests"] if e["fault"] == "api_slow"]
        expect(entry["delay_ms"] == 1500 and entry["status"] == 200, entry)

    def recording():
        h = auth(sim)
        expect(call(sim, "POST", "/_sim/api/requests/clear", {}).json == {"cleared": True}, "clear")
        expect(recorded(sim)["requests"] == [], "not cleared")
        body = {"content": "记录 me", "msg_type": 0, "msg_id": fresh()}
        r = call(sim, "POST", "/v2/users/O7/messages?x=1&y=two", body, {**h, "User-Agent": "sim-test/1"})
        call(sim, "DELETE", "/channels/C7/messages/M7?hidetip=true", headers=h)
        call(sim, "GET", "/no/such/path")
        call(sim, "GET", "/gateway", headers=h)  # discovery is not OpenAPI: it stays in /_sim/log only
        listing = recorded(sim)
        entries = listing["requests"]
        expect([(e["method"], e["path"]) for e in entries] == [
            ("POST", "/v2/users/O7/messages"), ("DELETE", "/channels/C7/messages/M7"), ("GET", "/no/such/path")],
            entries)
        first = entries[0]
        expect(first["query"] == "x=1&y=two" and entries[1]["query"] == "hidetip=true", entries)
        expect(first["headers"] == {"authorization": h["Authorization"], "x-union-appid": APP_ID,
                                    "content-type": "application/json", "user-agent": "sim-test/1"},
               first["headers"])
        expect(first["body_encoding"] == "utf-8" and json.loads(first["body"]) == body, first)
        expect(first["status"] == 200 and json.loads(first["response"]) == r.json, first)
        expect(first["trace_id"] == r.trace and first["fault"] is None and first["at_us"] > 1.6e15, first)
        expect(entries[2]["status"] == 404 and entries[2]["headers"]["authorization"] is None, entries[2])
        expect(listing["recorded"] >= 3, listing["recorded"])
        expect(call(sim, "POST", "/_sim/api/requests", {}).status == 405, "POST to the listing")
        expect(call(sim, "GET", "/_sim/api/requests/clear").status == 405, "GET of clear")
        # The list keeps the last --log-limit entries.
        sh = auth(small)
        before = recorded(small)["recorded"]
        for n in range(5):
            call(small, "GET", f"/users/@me?n={n}", headers=sh)
        listing = recorded(small)
        expect([e["query"] for e in listing["requests"]] == ["n=2", "n=3", "n=4"], listing["requests"])
        expect(listing["recorded"] == before + 5, (before, listing["recorded"]))

    checks.run("each endpoint answers in the platform's shape", shapes)
    checks.run("401 with code 11244: missing, wrong, expired tokens, X-Union-Appid", unauthorized)
    checks.run("passive replies: msg_seq once, five replies, no active push", passive_replies)
    checks.run("multipart/form-data to /channels, kept byte for byte", multipart_channel)
    checks.run("10 MiB and 21 MiB JSON bodies", large_bodies)
    checks.run("Expect: 100-continue is answered", expect_continue)
    checks.run("faults: 11244, duplicate, 5xx, 429, reset, prefix, count, clear", faults)
    checks.run("fault api_slow: delayed by a timer, the loop keeps answering", slow)
    checks.run("recording: /_sim/api/requests, clear, bounded", recording)
    tear_down(checks, tmp, *parts)
    checks.finish()


if __name__ == "__main__":
    main()
