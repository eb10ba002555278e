#!/usr/bin/python3
"""Self-test of qq-gateway-sim: REST endpoints, the gateway protocol, faults and the control API.

Environment: QQ_SIM_BIN (the simulator binary), QQ_TEST_DATA (tests/data). Needs python3-websockets.
Prints "N passed, M failed" and exits non-zero on any failure.
"""

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request

import websockets

SIM_BIN = os.environ.get("QQ_SIM_BIN", "build/bin/qq-gateway-sim")
TEST_DATA = os.environ.get("QQ_TEST_DATA", os.path.join(os.path.dirname(__file__), "..", "data"))
FIXTURES = os.path.join(TEST_DATA, "fixtures")
APP_ID = "102000000"
SECRET = "sim-secret"
N_SHARDS = 64  # tests use distinct shard indices of a 64-shard layout so they do not disturb each other


class Sim:
    """One simulator process on an ephemeral port."""

    def __init__(self, *args):
        self.tmp = tempfile.TemporaryDirectory(prefix="qqsim-test-")
        port_file = os.path.join(self.tmp.name, "port")
        self.proc = subprocess.Popen(
            [SIM_BIN, "--port", "0", "--port-file", port_file, "--quiet", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 10
        while not os.path.exists(port_file):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("simulator did not start: " + self.proc.stderr.read())
            time.sleep(0.02)
        with open(port_file) as f:
            content = f.read()
        assert content.endswith("\n"), repr(content)
        self.port = int(content)
        line = self.proc.stdout.readline()
        assert line == f"qq-gateway-sim listening on http://127.0.0.1:{self.port}\n", line
        self.base = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/websocket/"

    def http(self, method, path, body=None, headers=None, raw_body=None):
        data = raw_body if raw_body is not None else (None if body is None else json.dumps(body).encode())
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers or {})
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                status, text = resp.status, resp.read().decode()
        except urllib.error.HTTPError as e:
            status, text = e.code, e.read().decode()
        return status, json.loads(text)

    def control(self, path, body=None):
        status, reply = self.http("POST", "/_sim/" + path, body if body is not None else {})
        assert status == 200, (path, status, reply)
        return reply

    def state(self):
        status, reply = self.http("GET", "/_sim/state")
        assert status == 200
        return reply

    def token(self):
        status, reply = self.http("POST", "/app/getAppAccessToken", {"appId": APP_ID, "clientSecret": SECRET})
        assert status == 200, reply
        return reply["access_token"]

    def auth(self, token=None):
        return {"Authorization": "QQBot " + (token or self.token()), "X-Union-Appid": APP_ID}

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("simulator did not exit within 5 s of SIGTERM")
            assert rc == 0, f"simulator exited with {rc}"
        self.proc.stdout.close()
        self.proc.stderr.close()
        self.tmp.cleanup()


# ---- WebSocket helpers -------------------------------------------------------------------------------

async def connect(sim):
    ws = await websockets.connect(sim.ws_url, max_size=None, compression=None, ping_interval=None)
    hello = await recv_json(ws)
    assert hello["op"] == 10 and hello["d"]["heartbeat_interval"] > 0, hello
    return ws


async def recv_text(ws, timeout=5.0):
    return await asyncio.wait_for(ws.recv(), timeout)


async def recv_json(ws, timeout=5.0):
    return json.loads(await recv_text(ws, timeout))


async def identify(sim, ws, shard, token=None, n=N_SHARDS):
    await ws.send(json.dumps({"op": 2, "d": {"token": "QQBot " + (token or sim.token()), "intents": 1 << 30,
                                             "shard": [shard, n], "properties": {"$os": "linux"}}}))
    ready = await recv_json(ws)
    assert ready["op"] == 0 and ready["t"] == "READY" and ready["s"] == 1, ready
    assert ready["d"]["shard"] == [shard, n] and ready["d"]["user"]["bot"] is True, ready
    assert ready["id"].startswith("READY:"), ready
    return ready["d"]["session_id"]


async def expect_close(ws, code, timeout=5.0):
    try:
        while True:
            await asyncio.wait_for(ws.recv(), timeout)
    except websockets.ConnectionClosed:
        pass
    assert ws.close_code == code, f"close code {ws.close_code}, expected {code}"
    return ws.close_reason


async def expect_silence(ws, seconds):
    try:
        frame = await asyncio.wait_for(ws.recv(), seconds)
    except asyncio.TimeoutError:
        return
    raise AssertionError(f"unexpected frame {frame!r}")


async def connect_ready(sim, shard):
    ws = await connect(sim)
    session_id = await identify(sim, ws, shard)
    return ws, session_id


def find_conn(sim, shard):
    for conn in sim.state()["connections"]:
        if conn["shard"] == [shard, N_SHARDS] and conn["attached"]:
            return conn
    raise AssertionError(f"no attached connection for shard {shard}")


# ---- tests -------------------------------------------------------------------------------------------

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


@test
def token_endpoint(sim):
    before = sim.state()["token_requests"]
    status, a = sim.http("POST", "/app/getAppAccessToken", {"appId": APP_ID, "clientSecret": SECRET})
    assert status == 200 and len(a["access_token"]) >= 32, a
    assert isinstance(a["expires_in"], str) and 7190 <= int(a["expires_in"]) <= 7200, a
    status, b = sim.http("POST", "/app/getAppAccessToken", {"appId": APP_ID, "clientSecret": SECRET})
    assert b["access_token"] == a["access_token"], "the current token must be returned while > 60 s left"
    status, bad = sim.http("POST", "/app/getAppAccessToken", {"appId": APP_ID, "clientSecret": "wrong"})
    assert status == 401 and bad == {"code": 100016, "message": "invalid appid or secret"}, (status, bad)
    status, bad = sim.http("POST", "/app/getAppAccessToken", raw_body=b"{nope")
    assert status == 400, status
    assert sim.state()["token_requests"] == before + 4


@test
def token_rotation_in_last_minute(_sim):
    sim = Sim("--token-ttl", "60", "--expires-in-number")
    try:
        a = sim.http("POST", "/app/getAppAccessToken", {"appId": APP_ID, "clientSecret": SECRET})[1]
        assert isinstance(a["expires_in"], int) and a["expires_in"] == 60, a
        b = sim.http("POST", "/app/getAppAccessToken", {"appId": APP_ID, "clientSecret": SECRET})[1]
        assert a["access_token"] != b["access_token"], "a new token is issued in the last 60 s"
        for tok in (a["access_token"], b["access_token"]):  # the old one stays valid
            status, _ = sim.http("GET", "/gateway", headers=sim.auth(tok))
            assert status == 200
    finally:
        sim.stop()


@test
def gateway_discovery(sim):
    token = sim.token()
    status, g = sim.http("GET", "/gateway", headers=sim.auth(token))
    assert status == 200 and g == {"url": sim.ws_url}, g
    status, g = sim.http("GET", "/gateway/bot", headers=sim.auth(token))
    assert status == 200 and g["url"] == sim.ws_url and g["shards"] == 1, g
    assert g["session_start_limit"]["total"] == 1000 and g["session_start_limit"]["max_concurrency"] == 1, g
    assert g["session_start_limit"]["reset_after"] == 86400000, g
    expected_401 = {"code": 11244, "message": "token not exist or expire"}
    for headers in ({"Authorization": "QQBot " + token},  # no X-Union-Appid
                    {"Authorization": "QQBot nope", "X-Union-Appid": APP_ID},
                    {"Authorization": "QQBot " + token, "X-Union-Appid": "1"},
                    {"X-Union-Appid": APP_ID}):
        status, body = sim.http("GET", "/gateway/bot", headers=headers)
        assert status == 401 and body == expected_401, (headers, status, body)
    log = sim.http("GET", "/_sim/log")[1]["http"]
    entry = [e for e in log if e["path"] == "/gateway/bot" and e["status"] == 200][-1]
    assert entry["method"] == "GET" and entry["authorization"] == "QQBot " + token and entry["appid"] == APP_ID
    status, body = sim.http("GET", "/no/such/path")
    assert status == 404, status


@test
def legacy_bot_token(_sim):
    sim = Sim("--bot-token", "static-token", "--shards", "3", "--remaining", "7", "--app-id", "42")
    try:
        status, g = sim.http("GET", "/gateway/bot", headers={"Authorization": "Bot 42.static-token",
                                                            "X-Union-Appid": "42"})
        assert status == 200 and g["shards"] == 3 and g["session_start_limit"]["remaining"] == 7, g
        status, _ = sim.http("GET", "/gateway/bot", headers={"Authorization": "Bot 42.wrong", "X-Union-Appid": "42"})
        assert status == 401
        # The legacy token names the AppID: qq-guild-bot sends no X-Union-Appid; a wrong one is still refused.
        status, _ = sim.http("GET", "/gateway/bot", headers={"Authorization": "Bot 42.static-token"})
        assert status == 200
        status, _ = sim.http("GET", "/gateway", headers={"Authorization": "Bot 42.static-token", "X-Union-Appid": "1"})
        assert status == 401

        async def run():
            ws = await connect(sim)
            await ws.send(json.dumps({"op": 2, "d": {"token": "Bot 42.static-token", "intents": 1,
                                                     "shard": [0, 1]}}))
            ready = await recv_json(ws)
            assert ready["t"] == "READY", ready
            await ws.close()
        asyncio.run(run())
        assert sim.state()["remaining"] == 6
    finally:
        sim.stop()


@test
def identify_ready_heartbeat(sim):
    async def run():
        remaining = sim.state()["remaining"]
        ws, session_id = await connect_ready(sim, 1)
        assert len(session_id) >= 32
        await ws.send(json.dumps({"op": 1, "d": 1}))
        assert await recv_json(ws) == {"op": 11}
        await ws.send(json.dumps({"op": 1, "d": None}))
        assert await recv_json(ws) == {"op": 11}
        state = sim.state()
        conn = find_conn(sim, 1)
        assert conn["session_id"] == session_id and conn["acks"] is True and conn["heartbeats"] == 2, conn
        assert conn["last_heartbeat"] is None
        assert state["remaining"] == remaining - 1
        await ws.send("not json at all")  # lenient: recorded, nothing else happens
        await ws.send(json.dumps({"op": 42}))
        await ws.send(json.dumps({"op": 1, "d": 1}))
        assert await recv_json(ws) == {"op": 11}
        await ws.close()
    asyncio.run(run())


@test
def identify_errors(sim):
    async def attempt(d, code):
        ws = await connect(sim)
        await ws.send(json.dumps({"op": 2, "d": d}))
        await expect_close(ws, code)

    async def run():
        token = "QQBot " + sim.token()
        await attempt({"token": "QQBot bad", "intents": 1, "shard": [0, 1]}, 4004)
        await attempt({"token": token, "intents": 0, "shard": [0, 1]}, 4013)
        await attempt({"token": token, "shard": [0, 1]}, 4013)
        await attempt({"token": token, "intents": 1, "shard": [1, 1]}, 4010)
        await attempt({"token": token, "intents": 1, "shard": [0, 0]}, 4010)
        await attempt({"token": token, "intents": 1}, 4010)
    asyncio.run(run())


@test
def send_preserves_bytes(sim):
    async def run():
        ws, _ = await connect_ready(sim, 2)
        raw_d = '{"content": "你好 世界", "guild_id": 47129941624960822,\n "nested": {"a": [1, 2.5e3]}}'
        body = '{"shard": 2, "t": "AT_MESSAGE_CREATE", "d": ' + raw_d + '}'
        status, reply = sim.http("POST", "/_sim/send", raw_body=body.encode())
        assert status == 200, reply
        [entry] = reply["sent"]
        assert entry["shard"] == 2 and entry["s"] == 2, entry
        text = await recv_text(ws)
        assert text == entry["frame"], (text, entry["frame"])
        assert text.endswith('"d":' + raw_d + "}"), text
        frame = json.loads(text)
        assert frame["op"] == 0 and frame["s"] == 2 and frame["t"] == "AT_MESSAGE_CREATE", frame
        assert frame["id"].startswith("AT_MESSAGE_CREATE:") and len(frame["id"]) == len("AT_MESSAGE_CREATE:") + 36
        assert frame["d"]["guild_id"] == 47129941624960822
        await ws.close()
        status, err = sim.http("POST", "/_sim/send", {"shard": 63, "t": "X", "d": {}})
        assert status == 409, (status, err)
        status, err = sim.http("POST", "/_sim/send", {"shard": 2, "d": {}})
        assert status == 400, (status, err)
    asyncio.run(run())


@test
def fixtures_replayed_verbatim(sim):
    async def run():
        ws, _ = await connect_ready(sim, 3)
        reply = sim.control("fixtures", {"shard": 3})
        files = sorted(f for f in os.listdir(FIXTURES) if f.endswith(".json"))
        expected = []
        for name in files:
            with open(os.path.join(FIXTURES, name), encoding="utf-8") as f:
                text = f.read()
            try:
                doc = json.loads(text)
            except ValueError:
                continue
            if isinstance(doc, dict) and doc.get("op") == 0 and doc.get("t") not in ("READY", "RESUMED") \
                    and "d" in doc:
                expected.append((name, doc, text))
        assert [e["file"] for e in reply["sent"]] == [name for name, _, _ in expected], reply["sent"]
        assert len(expected) >= 10
        for (name, doc, file_text), entry in zip(expected, reply["sent"]):
            text = await recv_text(ws)
            assert text == entry["frame"]
            frame = json.loads(text)
            assert frame["t"] == doc["t"] and frame["d"] == doc["d"], name
            raw_d = text[text.index(',"d":') + 5:-1]
            assert raw_d in file_text, f"{name}: d bytes changed"
        s_values = [e["s"] for e in reply["sent"]]
        assert s_values == list(range(2, 2 + len(expected))), s_values
        await ws.close()
    asyncio.run(run())


@test
def resume_replays_missed_events(sim):
    async def run():
        ws, session_id = await connect_ready(sim, 4)
        frames = {}
        for i in range(3):
            entry = sim.control("send", {"shard": 4, "t": "MESSAGE_CREATE", "d": {"i": i}})["sent"][0]
            frames[entry["s"]] = entry["frame"]
            assert await recv_text(ws) == entry["frame"]
        await ws.close(code=4000)
        # Sent while no connection is live: history only.
        for i in range(3, 5):
            entry = sim.control("send", {"shard": 4, "t": "MESSAGE_CREATE", "d": {"i": i}})["sent"][0]
            assert entry["connected"] is False
            frames[entry["s"]] = entry["frame"]
        assert sorted(frames) == [2, 3, 4, 5, 6]
        resumes = sim.state()["resumes"]
        ws = await connect(sim)
        await ws.send(json.dumps({"op": 6, "d": {"token": "QQBot " + sim.token(), "session_id": session_id,
                                                 "seq": 3}}))
        for s in (4, 5, 6):
            assert await recv_text(ws) == frames[s], f"replay of s={s}"
        resumed = await recv_json(ws)
        assert resumed == {"op": 0, "s": 7, "t": "RESUMED", "d": ""}, resumed
        entry = sim.control("send", {"shard": 4, "t": "MESSAGE_CREATE", "d": {"i": 5}})["sent"][0]
        assert entry["s"] == 8 and await recv_text(ws) == entry["frame"]
        assert sim.state()["resumes"] == resumes + 1
        await ws.close()

        ws = await connect(sim)  # unknown session -> op 9
        await ws.send(json.dumps({"op": 6, "d": {"token": "QQBot " + sim.token(), "session_id": "nope", "seq": 1}}))
        assert await recv_json(ws) == {"op": 9, "d": False}
        await ws.close()
        ws = await connect(sim)  # bad token -> 4004
        await ws.send(json.dumps({"op": 6, "d": {"token": "QQBot bad", "session_id": session_id, "seq": 1}}))
        await expect_close(ws, 4004)
    asyncio.run(run())


@test
def fault_close_reconnect_drop(sim):
    async def run():
        ws, _ = await connect_ready(sim, 5)
        reply = sim.control("fault", {"shard": 5, "kind": "close", "code": 4321, "reason": "bye"})
        assert len(reply["applied"]) == 1 and reply["applied"][0]["shard"] == 5, reply
        assert await expect_close(ws, 4321) == "bye"

        ws, _ = await connect_ready(sim, 5)
        sim.control("fault", {"shard": 5, "kind": "reconnect"})
        assert await recv_json(ws) == {"op": 7, "d": False}
        await expect_close(ws, 4009)

        ws, _ = await connect_ready(sim, 5)
        sim.control("fault", {"shard": 5, "kind": "drop"})
        await expect_close(ws, 1006)  # no close frame
        status, _ = sim.http("POST", "/_sim/fault", {"shard": 5, "kind": "drop"})
        assert status == 409  # nothing live on the shard any more
        status, _ = sim.http("POST", "/_sim/fault", {"shard": 5, "kind": "no-such-kind"})
        assert status == 400
    asyncio.run(run())


@test
def fault_frames(sim):
    async def run():
        ws, session_id = await connect_ready(sim, 6)
        sim.control("fault", {"shard": 6, "kind": "malformed"})
        assert await recv_text(ws) == "{not json"
        sim.control("fault", {"shard": 6, "kind": "malformed", "text": "]]"})
        assert await recv_text(ws) == "]]"
        sim.control("fault", {"shard": 6, "kind": "raw", "text": '{"op":0,"s":99}'})
        assert await recv_text(ws) == '{"op":0,"s":99}'
        sim.control("fault", {"shard": 6, "kind": "heartbeat_request"})
        assert await recv_json(ws) == {"op": 1, "d": None}
        reply = sim.control("fault", {"shard": 6, "kind": "oversized", "bytes": 300000})
        text = await recv_text(ws)
        assert 299000 <= len(text.encode()) <= 301000, len(text)
        frame = json.loads(text)
        assert frame["op"] == 0 and frame["s"] == reply["applied"][0]["s"], frame
        sim.control("fault", {"shard": 6, "kind": "stop_acks"})
        assert find_conn(sim, 6)["acks"] is False
        await ws.send(json.dumps({"op": 1, "d": frame["s"]}))
        await expect_silence(ws, 0.3)
        sim.control("fault", {"shard": 6, "kind": "resume_acks"})
        await ws.send(json.dumps({"op": 1, "d": frame["s"]}))
        assert await recv_json(ws) == {"op": 11}
        sim.control("fault", {"shard": 6, "kind": "invalid_session"})
        assert await recv_json(ws) == {"op": 9, "d": False}
        await ws.close()
        ws = await connect(sim)  # the invalidated session cannot be resumed
        await ws.send(json.dumps({"op": 6, "d": {"token": "QQBot " + sim.token(), "session_id": session_id,
                                                 "seq": 1}}))
        assert await recv_json(ws) == {"op": 9, "d": False}
        await ws.close()
    asyncio.run(run())


@test
def fault_replay_from_sends_duplicates(sim):
    async def run():
        ws, session_id = await connect_ready(sim, 7)
        texts = []
        for i in range(4):  # s = 2..5
            sim.control("send", {"shard": 7, "t": "MESSAGE_CREATE", "d": {"i": i}})
            texts.append(await recv_text(ws))
        sim.control("fault", {"shard": 7, "kind": "replay_from", "seq": 2})
        await ws.close()
        ws = await connect(sim)
        await ws.send(json.dumps({"op": 6, "d": {"token": "QQBot " + sim.token(), "session_id": session_id,
                                                 "seq": 5}}))
        assert [await recv_text(ws) for _ in range(3)] == texts[1:]  # s = 3, 4, 5 again
        assert (await recv_json(ws))["t"] == "RESUMED"
        await ws.close()
    asyncio.run(run())


@test
def fault_expire_token(sim):
    async def run():
        old = sim.token()
        ws, _ = await connect_ready(sim, 8)
        sim.control("fault", {"kind": "expire_token"})
        status, _ = sim.http("GET", "/gateway", headers=sim.auth(old))
        assert status == 401
        ws2 = await connect(sim)
        await ws2.send(json.dumps({"op": 2, "d": {"token": "QQBot " + old, "intents": 1, "shard": [9, N_SHARDS]}}))
        await expect_close(ws2, 4004)
        new = sim.token()
        assert new != old
        status, _ = sim.http("GET", "/gateway", headers=sim.auth(new))
        assert status == 200
        await ws.send(json.dumps({"op": 1, "d": 1}))  # live connections are not affected
        assert await recv_json(ws) == {"op": 11}
        await ws.close()
    asyncio.run(run())


@test
def generate_in_order(sim):
    async def run():
        ws, _ = await connect_ready(sim, 10)
        reply = sim.control("generate", {"shard": 10, "count": 2000, "size": 500})
        assert reply["scheduled"] == 2000, reply
        last_n = 0
        for _ in range(2000):
            text = await recv_text(ws)
            frame = json.loads(text)
            assert frame["t"] == "C2C_MESSAGE_CREATE"
            n = frame["d"]["seq_no"]
            assert n == last_n + 1 and f"event 10-{n}" in frame["d"]["content"], frame["d"]
            assert 450 <= len(text.encode()) <= 560, len(text)
            last_n = n
        deadline = time.monotonic() + 5
        while find_conn(sim, 10)["sent"] < 2001:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        start = time.monotonic()
        sim.control("generate", {"shard": 10, "count": 20, "rate": 100})
        for _ in range(20):
            assert json.loads(await recv_text(ws))["d"]["seq_no"] == last_n + 1
            last_n += 1
        elapsed = time.monotonic() - start
        assert 0.12 <= elapsed <= 2.0, elapsed
        await ws.close()
    asyncio.run(run())


@test
def generate_users(sim):
    """By default every generated event of a shard has one author; with `users` K, event n's author is the
    (n % K)-th of K distinct openids of 32 hex digits."""
    async def run():
        ws, _ = await connect_ready(sim, 11)
        sim.control("generate", {"shard": 11, "count": 3})
        authors = [json.loads(await recv_text(ws))["d"]["author"]["user_openid"] for _ in range(3)]
        assert authors == ["0000000B0000000000000000C2C0FFEE"] * 3, authors
        sim.control("generate", {"shard": 11, "count": 12, "users": 5})
        by_n = {}
        for _ in range(12):
            d = json.loads(await recv_text(ws))["d"]
            by_n[d["seq_no"]] = d["author"]["user_openid"]
        assert sorted(by_n) == list(range(4, 16)), sorted(by_n)
        for n, openid in by_n.items():
            assert openid == f"0000000B{n % 5:08X}00000000C2C0FFEE", (n, openid)
            assert re.fullmatch(r"[0-9A-F]{32}", openid), openid
        assert len(set(by_n.values())) == 5, by_n
        status, reply = sim.http("POST", "/_sim/generate", {"shard": 11, "users": -1})
        assert status == 400, (status, reply)
        await ws.close()
    asyncio.run(run())


@test
def continuous_rate(_sim):
    sim = Sim("--rate", "400", "--event-size", "200")
    try:
        async def run():
            ws = await connect(sim)
            await identify(sim, ws, 0, n=1)
            start = time.monotonic()
            for i in range(100):
                frame = json.loads(await recv_text(ws))
                assert frame["d"]["seq_no"] == i + 1
            elapsed = time.monotonic() - start
            assert 0.15 <= elapsed <= 2.0, elapsed
            sim.control("config", {"rate": 0})
            await ws.close()
        asyncio.run(run())
    finally:
        sim.stop()


@test
def log_endpoint(sim):
    async def run():
        sim.control("log/clear")
        log = sim.http("GET", "/_sim/log")[1]
        assert log == {"received": [], "connects": [], "closes": [], "http": []}, log
        ws, _ = await connect_ready(sim, 11)
        hb = json.dumps({"op": 1, "d": 1})
        await ws.send(hb)
        await recv_json(ws)
        conn_id = find_conn(sim, 11)["id"]
        await ws.close(code=4567)
        deadline = time.monotonic() + 5
        while True:
            log = sim.http("GET", "/_sim/log")[1]
            if log["closes"] or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        frames = [e for e in log["received"] if e["conn"] == conn_id]
        assert json.loads(frames[0]["frame"])["op"] == 2 and frames[0]["shard"] is None, frames
        assert frames[1]["frame"] == hb and frames[1]["shard"] == 11, frames
        assert frames[0]["at_us"] > 1_600_000_000_000_000
        assert [c["conn"] for c in log["connects"]] == [conn_id]
        assert log["closes"][0]["conn"] == conn_id and log["closes"][0]["code"] == 4567, log["closes"]
        assert any(e["path"] == "/app/getAppAccessToken" and e["method"] == "POST" and "clientSecret" in e["body"]
                   for e in log["http"]), log["http"]
    asyncio.run(run())


@test
def config_and_state(sim):
    async def run():
        sim.control("config", {"shards": 4, "remaining": 50, "max_concurrency": 2, "heartbeat_interval": 1234})
        g = sim.http("GET", "/gateway/bot", headers=sim.auth())[1]
        assert g["shards"] == 4 and g["session_start_limit"]["remaining"] == 50, g
        assert g["session_start_limit"]["max_concurrency"] == 2, g
        ws = await websockets.connect(sim.ws_url, compression=None)
        assert await recv_json(ws) == {"op": 10, "d": {"heartbeat_interval": 1234}}
        await identify(sim, ws, 12)
        state = sim.state()
        assert state["remaining"] == 49 and state["identifies"] >= 1 and state["sessions"] >= 1, state
        for key in ("connections", "sessions", "identifies", "resumes", "token_requests", "remaining"):
            assert key in state, key
        sim.control("config", {"shards": 1, "remaining": 1000, "max_concurrency": 1, "heartbeat_interval": 45000})
        status, err = sim.http("POST", "/_sim/config", {"shards": "x"})
        assert status == 400 and "error" in err
        status, err = sim.http("POST", "/_sim/send", raw_body=b"{broken")
        assert status == 400 and "error" in err
        status, err = sim.http("GET", "/_sim/nothing")
        assert status == 404
        await ws.close()
    asyncio.run(run())


@test
def websocket_path_and_no_shard_target(sim):
    async def run():
        for path in ("/websocket", "/websocket/"):
            ws = await websockets.connect(f"ws://127.0.0.1:{sim.port}{path}", compression=None)
            assert (await recv_json(ws))["op"] == 10
            await ws.close()
        try:
            await websockets.connect(f"ws://127.0.0.1:{sim.port}/elsewhere")
        except (websockets.InvalidHandshake, websockets.InvalidStatusCode, OSError):
            pass
        else:
            raise AssertionError("upgrade on another path must be refused")
        # Two shards live: a send without "shard" reaches both.
        ws_a, _ = await connect_ready(sim, 13)
        ws_b, _ = await connect_ready(sim, 14)
        reply = sim.control("send", {"t": "GROUP_AT_MESSAGE_CREATE", "d": {"x": 1}})
        shards = {e["shard"] for e in reply["sent"]}
        assert {13, 14} <= shards, reply
        assert json.loads(await recv_text(ws_a))["t"] == "GROUP_AT_MESSAGE_CREATE"
        assert json.loads(await recv_text(ws_b))["t"] == "GROUP_AT_MESSAGE_CREATE"
        # A newer identify on the same shard becomes the target; the old connection gets nothing more.
        ws_c, _ = await connect_ready(sim, 13)
        sim.control("send", {"shard": 13, "t": "MESSAGE_CREATE", "d": {}})
        assert json.loads(await recv_text(ws_c))["t"] == "MESSAGE_CREATE"
        await expect_silence(ws_a, 0.2)
        for ws in (ws_a, ws_b, ws_c):
            await ws.close()
    asyncio.run(run())


def main():
    if not os.path.exists(SIM_BIN):
        print(f"QQ_SIM_BIN {SIM_BIN} does not exist")
        return 1
    started = time.monotonic()
    passed = failed = 0
    sim = Sim("--fixtures", FIXTURES)
    try:
        for fn in TESTS:
            t0 = time.monotonic()
            try:
                fn(sim)
            except Exception:  # noqa: BLE001 - report every failure and go on
                failed += 1
                print(f"FAIL {fn.__name__}")
                traceback.print_exc()
            else:
                passed += 1
                print(f"ok   {fn.__name__} ({time.monotonic() - t0:.2f} s)")
            if sim.proc.poll() is not None:
                print("the simulator died: " + sim.proc.stderr.read())
                failed += 1
                break
    finally:
        try:
            sim.stop()
            passed += 1
            print("ok   sigterm_exits_zero")
        except Exception:  # noqa: BLE001
            failed += 1
            print("FAIL sigterm_exits_zero")
            traceback.print_exc()
    print(f"{passed} passed, {failed} failed ({time.monotonic() - started:.1f} s)")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
