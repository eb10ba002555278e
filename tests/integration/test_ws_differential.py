#!/usr/bin/python3
"""The relay's WebSocket client (GatewaySocket, through build/bin/ws-probe) against two independent server
implementations from Debian: Python `websockets` (python3-websockets) and aiohttp (python3-aiohttp).

Every case is played by both servers on loopback. What a server library can send, it sends with its own API
(text, binary, large frames, fragmented text from `websockets` with its pings in between, valid close codes);
what it refuses to send (invalid close codes, a close without a code, a one-byte close payload, a non-UTF-8
reason or text frame; fragmentation from aiohttp, which has no API for it) is written as raw frame bytes to
that server's own transport, between its own frames (a character split across two fragments is raw for both).
Malformed upgrade responses come from a plain asyncio socket server. Each server reports the close code it received from the
client, parsed by its own frame reader (`websockets`: `close_rcvd`; aiohttp: `ws.close_code`), and the pongs
it received for its pings. The probe reports the messages the client delivered, the close code and reason it
reported, and the close code it sent.
"""
import asyncio
import base64
import hashlib
import json
import os
import struct
import sys

import websockets
from aiohttp import WSMsgType, web

from harness import Checks, expect

PROBE = os.environ.get("QQ_WS_PROBE_BIN") or os.path.join(
    os.environ.get("QQ_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", "..")), "build", "bin", "ws-probe")
CAP = 1 << 20  # the client's message limit (gateway.max_frame_bytes), passed to the probe
STEP_TIMEOUT = 10


def frame(opcode, payload, fin=True):
    """A server frame: unmasked, shortest length encoding."""
    head = bytes([(0x80 if fin else 0) | opcode])
    if len(payload) < 126:
        head += bytes([len(payload)])
    elif len(payload) <= 0xFFFF:
        head += bytes([126]) + struct.pack("!H", len(payload))
    else:
        head += bytes([127]) + struct.pack("!Q", len(payload))
    return head + payload


def close_frame(code, reason=b""):
    return frame(0x8, struct.pack("!H", code) + reason)


def json_text(size, seed):
    """A JSON document of about `size` bytes, with non-ASCII text in it."""
    body = ("é中𝄞" + seed) * (size // (len(("é中𝄞" + seed).encode())) + 1)
    return json.dumps({"op": 0, "s": 1, "t": "MESSAGE_CREATE", "d": {"content": body}}, ensure_ascii=False)


FRAGMENTED = json_text(6000, "frag")
FRAGMENTS = [FRAGMENTED[i:i + 50] for i in range(0, len(FRAGMENTED), 50)]  # about 70 fragments
LARGE = json_text(200_000, "large")
LARGE_BINARY = bytes(range(256)) * 800  # 204 800 bytes
TOO_BIG = json_text(CAP + 500_000, "big")


def expected_close(code, reason, sent, server_saw):
    return {"code": code, "reason": reason, "sent": sent, "server_saw": server_saw}


def protocol_error(why):
    return expected_close(1002, why, 1002, 1002)


# Steps: ("text", str) / ("binary", bytes) / ("fragments", [str], ping_every) / ("ping", bytes) with the server's
# own API where it has one; ("close", code, reason) with the server's close(); ("raw", bytes) written to its transport.
CASES = {
    "fragmented_with_pings": {
        "steps": [("fragments", FRAGMENTS, 4), ("close", 1000, "done")],
        "messages": [FRAGMENTED.encode()],
        "pongs": len(range(4, len(FRAGMENTS), 4)),
        "close": expected_close(1000, "done", 1000, 1000),
    },
    "fragment_splits_a_character": {
        "steps": [("raw", frame(0x1, "caf\u00e9 \u4e2d".encode()[:-1], fin=False)), ("ping", b"mid"),
                  ("raw", frame(0x0, "caf\u00e9 \u4e2d".encode()[-1:])), ("close", 1001, "going away")],
        "messages": ["caf\u00e9 \u4e2d".encode()],
        "pongs": 1,
        "close": expected_close(1001, "going away", 1001, 1001),
    },
    "large_frames": {
        "steps": [("text", LARGE), ("binary", LARGE_BINARY), ("text", '{"op":11}'),
                  ("close", 4009, "Session timed out")],
        "messages": [LARGE.encode(), LARGE_BINARY, b'{"op":11}'],
        "close": expected_close(4009, "Session timed out", 4009, 4009),
    },
    "close_3000_with_utf8_reason": {
        "steps": [("binary", b"\x00\xff binary"), ("close", 3000, "\u2713 fin")],
        "messages": [b"\x00\xff binary"],
        "close": expected_close(3000, "\u2713 fin", 3000, 3000),
    },
    "message_over_the_cap": {
        "steps": [("text", '{"op":11}'), ("text", TOO_BIG)],
        "messages": [b'{"op":11}'],
        "close": expected_close(1009, "message larger than gateway.max_frame_bytes", 1009, 1009),
    },
    "fragments_add_up_over_the_cap": {
        "steps": [("raw", b"".join(frame(0x1 if i == 0 else 0x0, b"x" * 150_000, fin=False) for i in range(7))
                   + frame(0x0, b"x" * 150_000))],
        "messages": [],
        "close": expected_close(1009, "message larger than gateway.max_frame_bytes", 1009, 1009),
    },
    "close_without_code": {
        "steps": [("raw", frame(0x8, b""))],
        "messages": [],
        "close": expected_close(1005, "", 1005, "empty"),
    },
    "close_one_byte_payload": {
        "steps": [("raw", frame(0x8, b"\x03"))],
        "messages": [],
        "close": protocol_error("a close frame with a one-byte payload"),
    },
    "close_reason_not_utf8": {
        "steps": [("raw", close_frame(1000, b"caf\xc3"))],
        "messages": [],
        "close": expected_close(1007, "a close frame whose reason is not UTF-8", 1007, 1007),
    },
    "text_not_utf8": {
        "steps": [("text", '{"op":11}'), ("raw", frame(0x1, b'{"t":"\xed\xa0\x80"}'))],
        "messages": [b'{"op":11}'],
        "close": expected_close(1007, "a text message that is not UTF-8", 1007, 1007),
    },
}
for invalid_code in (1005, 1006, 999, 2000, 5000, 1004, 1015, 0):
    CASES[f"close_{invalid_code}"] = {
        "steps": [("raw", close_frame(invalid_code, b"x"))],
        "messages": [],
        "close": protocol_error(f"a close frame with code {invalid_code}, which is not valid on the wire"),
    }


# Upgrade responses from a plain asyncio socket server (no library writes these): `{accept}` is replaced by the
# right Sec-WebSocket-Accept. None: accepted (the control case); otherwise the start of the reported reason.
GOOD_FIELDS = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n"
UPGRADE_CASES = {
    "upgrade_ok": ("HTTP/1.1 101 Switching Protocols\r\nServer: raw\r\n" + GOOD_FIELDS + "\r\n", None),
    "upgrade_status_1010": ("HTTP/1.1 1010 Switching Protocols\r\n" + GOOD_FIELDS + "\r\n",
                            "connect failed: not an HTTP response: HTTP/1.1 1010"),
    "upgrade_http_1_0": ("HTTP/1.0 101 Switching Protocols\r\n" + GOOD_FIELDS + "\r\n",
                         "connect failed: HTTP/1.0 101 (a WebSocket upgrade needs HTTP/1.1)"),
    "upgrade_obs_fold": ("HTTP/1.1 101 Switching Protocols\r\nServer: raw\r\n folded\r\n" + GOOD_FIELDS + "\r\n",
                         "connect failed: a malformed header line in the upgrade response:  folded"),
    "upgrade_space_before_colon": ("HTTP/1.1 101 Switching Protocols\r\nUpgrade : websocket\r\n" + GOOD_FIELDS
                                   + "\r\n", "connect failed: a malformed header line in the upgrade response: "),
    "upgrade_subprotocol": ("HTTP/1.1 101 Switching Protocols\r\n" + GOOD_FIELDS + "Sec-WebSocket-Protocol: chat\r\n\r\n",
                            "connect failed: the server chose a subprotocol that was not offered: chat"),
    "upgrade_extension": ("HTTP/1.1 101 Switching Protocols\r\n" + GOOD_FIELDS
                          + "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
                          "connect failed: the server chose an extension that was not offered: permessage-deflate"),
}


async def raw_upgrade_handler(reader, writer):
    try:
        request = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), STEP_TIMEOUT)).decode()
        name = request.split(" ")[1].strip("/")
        key = next(line.split(":", 1)[1].strip() for line in request.split("\r\n")
                   if line.lower().startswith("sec-websocket-key:"))
        accept = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode())
                                  .digest()).decode()
        writer.write(UPGRADE_CASES[name][0].replace("{accept}", accept).encode())
        if UPGRADE_CASES[name][1] is None:
            writer.write(close_frame(1000, b"ok"))
        await asyncio.wait_for(reader.read(), STEP_TIMEOUT)  # until the client ends the connection
    finally:
        writer.close()


class Outcome:
    def __init__(self):
        self.server_saw = None  # the close code the server's library parsed from the client, "empty", or None
        self.pongs = 0
        self.notes = []
        self.done = asyncio.Event()


OUTCOMES = {}


async def websockets_handler(ws, path):
    name = path.strip("/")
    outcome = OUTCOMES[("websockets", name)]
    try:
        for step in CASES[name]["steps"]:
            if step[0] in ("text", "binary"):
                await asyncio.wait_for(ws.send(step[1]), STEP_TIMEOUT)
            elif step[0] == "fragments":
                waiters = []

                async def pieces():
                    for i, piece in enumerate(step[1]):
                        if i and i % step[2] == 0:
                            waiters.append(await ws.ping(f"ping {i}"))  # between two fragments
                        yield piece
                await asyncio.wait_for(ws.send(pieces()), STEP_TIMEOUT)
                for waiter in waiters:
                    await asyncio.wait_for(waiter, STEP_TIMEOUT)
                    outcome.pongs += 1
            elif step[0] == "ping":
                await asyncio.wait_for(await ws.ping(step[1]), STEP_TIMEOUT)
                outcome.pongs += 1
            elif step[0] == "close":
                await asyncio.wait_for(ws.close(step[1], step[2]), STEP_TIMEOUT)
            elif step[0] == "raw":
                ws.transport.write(step[1])
        await asyncio.wait_for(ws.wait_closed(), STEP_TIMEOUT)
    except websockets.ConnectionClosed as closed:
        outcome.notes.append(f"ConnectionClosed {closed}")
    except Exception as error:  # noqa: BLE001 - recorded and compared
        outcome.notes.append(repr(error))
    received = ws.close_rcvd
    outcome.server_saw = None if received is None else "empty" if received.code == 1005 else received.code
    outcome.done.set()


async def aiohttp_handler(request):
    name = request.match_info["name"]
    outcome = OUTCOMES[("aiohttp", name)]
    ws = web.WebSocketResponse(autoping=False, autoclose=True, max_msg_size=0)
    await ws.prepare(request)
    transport = request.transport
    try:
        for step in CASES[name]["steps"]:
            if step[0] == "text":
                await asyncio.wait_for(ws.send_str(step[1]), STEP_TIMEOUT)
            elif step[0] == "binary":
                await asyncio.wait_for(ws.send_bytes(step[1]), STEP_TIMEOUT)
            elif step[0] == "fragments":  # aiohttp cannot fragment: raw fragments, its own pings between them
                pieces, every = step[1], step[2]
                pings = 0
                for i, piece in enumerate(pieces):
                    if i and i % every == 0:
                        await ws.ping(f"ping {i}".encode())
                        pings += 1
                    transport.write(frame(0x1 if i == 0 else 0x0, piece.encode(), fin=i == len(pieces) - 1))
                while outcome.pongs < pings:
                    message = await ws.receive(timeout=STEP_TIMEOUT)
                    if message.type != WSMsgType.PONG:
                        raise AssertionError(f"{message.type} instead of a pong")
                    outcome.pongs += 1
            elif step[0] == "ping":
                await ws.ping(step[1])
                message = await ws.receive(timeout=STEP_TIMEOUT)
                if message.type != WSMsgType.PONG or message.data != step[1]:
                    raise AssertionError(f"{message.type} {message.data!r} instead of the pong")
                outcome.pongs += 1
            elif step[0] == "close":
                await asyncio.wait_for(ws.close(code=step[1], message=step[2].encode()), STEP_TIMEOUT)
                outcome.server_saw = ws.close_code
            elif step[0] == "raw":
                transport.write(step[1])
        while not ws.closed:
            message = await ws.receive(timeout=STEP_TIMEOUT)
            if message.type == WSMsgType.CLOSE:
                outcome.server_saw = "empty" if message.data == 0 else message.data
            elif message.type in (WSMsgType.CLOSED, WSMsgType.ERROR):
                outcome.notes.append(f"{message.type} {message.data!r}")
                break
    except Exception as error:  # noqa: BLE001 - recorded and compared
        outcome.notes.append(repr(error))
    outcome.done.set()
    return ws


async def probe(port, name):
    process = await asyncio.create_subprocess_exec(PROBE, f"ws://127.0.0.1:{port}/{name}", str(CAP), "8000",
                                                   stdout=asyncio.subprocess.PIPE)
    try:
        stdout, _ = await asyncio.wait_for(process.communicate(), 20)
    except asyncio.TimeoutError:
        process.kill()
        await process.wait()
        return [{"event": "probe did not end"}], None
    return [json.loads(line) for line in stdout.decode().splitlines()], process.returncode


async def play_all():
    results = {}
    server = await websockets.serve(websockets_handler, "127.0.0.1", 0, ping_interval=None, compression=None,
                                    max_size=None)
    app = web.Application()
    app.router.add_get("/{name}", aiohttp_handler)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    raw = await asyncio.start_server(raw_upgrade_handler, "127.0.0.1", 0)
    for name in UPGRADE_CASES:
        results[("raw socket", name)] = await probe(raw.sockets[0].getsockname()[1], name)
    ports = {"websockets": server.sockets[0].getsockname()[1],
             "aiohttp": site._server.sockets[0].getsockname()[1]}  # noqa: SLF001 - the port it chose
    try:
        for implementation, port in ports.items():
            for name in CASES:
                outcome = OUTCOMES[(implementation, name)] = Outcome()
                lines, status = await probe(port, name)
                try:
                    await asyncio.wait_for(outcome.done.wait(), STEP_TIMEOUT)
                except asyncio.TimeoutError:
                    outcome.notes.append("the server handler did not finish")
                results[(implementation, name)] = (lines, status, outcome)
    finally:
        raw.close()
        await raw.wait_closed()
        server.close()
        await server.wait_closed()
        await runner.cleanup()
    return results


def check(case, lines, status, outcome):
    expect(status == 0, f"probe exit status {status}: {lines}")
    expect(lines and lines[0] == {"event": "open"}, f"no open: {lines}")
    messages = [line for line in lines if line["event"] == "message"]
    wanted = case["messages"]
    expect([(m["length"], m["sha256"]) for m in messages] == [(len(w), hashlib.sha256(w).hexdigest()) for w in wanted],
           f"messages {[(m['length'], m.get('text', '')[:40]) for m in messages]} instead of "
           f"{[(len(w), w[:40]) for w in wanted]}")
    closed = [line for line in lines if line["event"] == "closed"]
    expect(len(closed) == 1 and lines[-1] == closed[0], f"one closed event, last: {lines}")
    want = case["close"]
    got = closed[0]
    expect(got["code"] == want["code"], f"reported {got} instead of {want}")
    expect(got["reason"] == want["reason"], f"reason {got['reason']!r} instead of {want['reason']!r}")
    expect(got["sent_close_code"] == want["sent"], f"sent {got['sent_close_code']} instead of {want['sent']}")
    expect(outcome.server_saw == want["server_saw"],
           f"the server received close {outcome.server_saw!r} instead of {want['server_saw']!r} ({outcome.notes})")
    expect(outcome.pongs == case.get("pongs", 0), f"{outcome.pongs} pongs instead of {case.get('pongs', 0)}")


def check_upgrade(name, lines, status):
    expect(status == 0, f"probe exit status {status}: {lines}")
    wanted = UPGRADE_CASES[name][1]
    if wanted is None:
        expect([line["event"] for line in lines] == ["open", "closed"] and lines[1]["code"] == 1000,
               f"not accepted: {lines}")
        return
    expect(len(lines) == 1 and lines[0]["event"] == "closed", f"not refused: {lines}")
    expect(lines[0]["code"] == 1006 and lines[0]["reason"].startswith(wanted), f"{lines[0]} instead of {wanted}")


def main():
    checks = Checks()
    if not os.access(PROBE, os.X_OK):
        print(f"ws-probe not found at {PROBE} (build the ws-probe target)")
        checks.failed += 1
        checks.finish()
    results = asyncio.run(asyncio.wait_for(play_all(), 240))
    for (implementation, name), result in results.items():
        if implementation == "raw socket":
            checks.run(f"{implementation}: {name}", lambda: check_upgrade(name, *result))
            continue
        lines, status, outcome = result
        checks.run(f"{implementation}: {name}", lambda: check(CASES[name], lines, status, outcome))
    checks.finish()


if __name__ == "__main__":
    sys.exit(main())
