#!/usr/bin/python3
"""The gateway the relay serves to SDK bots (docs/downstream.md), attacked as a hostile or broken WebSocket client
would: every RFC 6455 violation a server must refuse (hand-built frames on a bare socket, raw_ws.py, where
Python's `websockets` refuses to build them; `websockets` itself where it can), abuse of the gateway protocol
(Identify without a token, two Identifies, unknown sessions, frames that are not gateway payloads), floods of
small frames and a client that never reads, and caps on connections and sessions. Everything the relay sends
back must be one JSON document in valid UTF-8, and close reasons valid UTF-8.
Environment: QQ_RELAY_BIN, QQ_SIM_BIN.
"""
import asyncio
import json
import os
import socket
import struct
import threading
import time

import websockets

from harness import Checks, Relay, Sim, expect, relay_config, tear_down, wait_for, workdir
from metrics_client import metrics
from process_sockets import holds_connection
from raw_ws import (BINARY, CLOSE, CONTINUATION, PING, TEXT, Closed, RawClient, close_frame, frame,
                    strict_json)
from webhook_client import accepts_connections, free_port

KEY = "h" * 20 + "-hostile-bot-key-0123"
GROUP_AND_C2C_EVENT = 1 << 25
MAX_MESSAGE = 1 << 20
HEARTBEAT_MS = 30000


def main():
    checks = Checks()
    tmp = workdir()
    sim = Sim(tmp, "--shards", "1", "--heartbeat-interval", "1000")
    api_port = free_port()
    metrics_port = free_port()
    clients_file = os.path.join(tmp, "clients")
    with open(clients_file, "w") as f:
        f.write(f"hostile-bot {KEY}\n")
    config = relay_config(sim, f"ipc://{tmp}/pub.sock", f"{tmp}/state") + f"""
[api]
enabled = true
listen = "127.0.0.1:{api_port}"
clients_file = "{clients_file}"
heartbeat_interval = {HEARTBEAT_MS}
max_client_buffer = 262144
max_connections = 64
[metrics]
listen = "127.0.0.1:{metrics_port}"
"""
    config = config.replace('level = "debug"', 'level = "info"')
    relay = Relay(tmp, config)
    parts = [relay, sim]
    token = f"Bearer {KEY}"
    opened = []

    def raw():
        client = RawClient(api_port)
        opened.append(client)
        hello = client.recv()
        expect(hello == {"op": 10, "d": {"heartbeat_interval": HEARTBEAT_MS}}, hello)
        return client

    def refused_with(data, code, what):
        """Sends `data` on a new connection after Hello; the relay must answer with a close frame of `code`, a
        UTF-8 reason, and end the connection."""
        client = raw()
        client.send(data)
        messages, got, reason = client.until_closed()
        expect(got == code, f"{what}: closed with {got} ({reason!r}), not {code}")
        expect(not messages, f"{what}: answered {messages}")
        expect(client.ended(5), f"{what}: the connection stayed open after the close")
        client.close()
        return reason

    try:
        wait_for(lambda: [s["connected"] for s in sim.get("/_sim/state")["shards"]] == [True], 30,
                 "the relay's shard READY")
        wait_for(lambda: accepts_connections(api_port), 10, "the API listener")

        def frame_violations():
            heartbeat = json.dumps({"op": 1, "d": None})
            cases = [
                (frame(TEXT, heartbeat, masked=False), 1002, "an unmasked text frame"),
                (frame(PING, b"x", masked=False), 1002, "an unmasked ping"),
                (frame(TEXT, heartbeat, rsv=4), 1002, "RSV1 set"),
                (frame(TEXT, heartbeat, rsv=2), 1002, "RSV2 set"),
                (frame(TEXT, heartbeat, rsv=1), 1002, "RSV3 set"),
                (frame(0x3, b"{}"), 1002, "opcode 3"),
                (frame(0xB, b""), 1002, "opcode 11"),
                (frame(PING, b"x", fin=False), 1002, "a fragmented ping"),
                (frame(PING, b"x" * 126), 1002, "a ping of 126 bytes"),
                (frame(CLOSE, struct.pack("!H", 1000) + b"x" * 124), 1002, "a close of 126 bytes"),
                (frame(CONTINUATION, b"{}"), 1002, "a continuation outside a message"),
                (frame(TEXT, b"{", fin=False) + frame(TEXT, b"}"), 1002, "a new message inside a fragmented one"),
                (frame(TEXT, b"", length=1 << 63), 1002, "a 64-bit length with its top bit set"),
                (frame(TEXT, b"", length=(1 << 64) - 1), 1002, "a 64-bit length of 2^64-1"),
                (frame(TEXT, b"\xff\xfe"), 1007, "a text frame that is not UTF-8"),
                (frame(TEXT, b'{"op":1,"d":"\xed\xa0\x80"}'), 1007, "a text frame with a UTF-16 surrogate"),
                (frame(TEXT, b'{"op":1,"d":"\xc0\xaf"}'), 1007, "a text frame with an overlong form"),
                (frame(TEXT, b'{"op":1,"d":"\xe4\xbd', fin=False) + frame(CONTINUATION, b'"}'), 1007,
                 "a character cut by the end of the message"),
                (close_frame(1000, b"\xff"), 1007, "a close reason that is not UTF-8"),
                (frame(CLOSE, b"\x03"), 1002, "a close with a one-byte payload"),
            ]
            for code in (0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535):
                cases.append((close_frame(code), 1002, f"a close with code {code}"))
            for data, code, what in cases:
                refused_with(data, code, what)
        checks.run("RFC 6455 violations are refused with 1002 or 1007, an invalid close code never echoed",
                   frame_violations)

        def oversized_messages():
            # Refused on the header alone: the 2 MiB are never sent.
            reason = refused_with(frame(TEXT, b"", length=2 * MAX_MESSAGE)[:14], 1009, "a 2 MiB frame header")
            # The limit itself, not the name of a setting of the relay's that means nothing to the client.
            expect(reason == f"a message larger than {MAX_MESSAGE} bytes", reason)
            refused_with(frame(TEXT, b"", length=MAX_MESSAGE + 1)[:14], 1009, "a 1 MiB + 1 frame header")
            piece = b" " * (MAX_MESSAGE // 2)
            refused_with(frame(TEXT, piece, fin=False) + frame(CONTINUATION, piece, fin=False) +
                         frame(CONTINUATION, b"{}"), 1009, "fragments adding up to more than 1 MiB")
            # Exactly 1 MiB is taken: a heartbeat padded with whitespace.
            client = raw()
            body = b'{"op":1,"d":null}'
            client.send(frame(TEXT, body + b" " * (MAX_MESSAGE - len(body))))
            expect(client.recv() == {"op": 11}, "no op 11 for a 1 MiB heartbeat")
        checks.run("a message over 1 MiB is refused with 1009 (as soon as a header says so); 1 MiB is taken",
                   oversized_messages)

        def valid_closes_answered():
            for code, reason in ((1000, b"bye"), (1001, b""), (3000, b"app"), (4999, "fin \u00e9".encode())):
                client = raw()
                client.send(close_frame(code, reason))
                _, got, text = client.until_closed()
                expect(got == code, f"close {code} answered with {got}")
                expect(client.ended(5), f"close {code}: the connection stayed open")
            client = raw()
            client.send(close_frame())
            opcode, _, payload = client.read_frame()
            expect(opcode == CLOSE and payload == b"", f"an empty close answered with {opcode} {payload!r}")
        checks.run("a valid close is answered with the same code, an empty close with an empty one",
                   valid_closes_answered)

        def control_frames_inside_messages():
            client = raw()
            client.send(frame(TEXT, b'{"op":', fin=False) + frame(PING, b"p1") +
                        frame(CONTINUATION, b'1,"d":', fin=False) + frame(PING, b"") + frame(CONTINUATION, b'null}'))
            expect(client.recv() == {"op": 11}, "no op 11 for a fragmented heartbeat")
            expect(client.last_pong == b"", "pongs")
        checks.run("pings between fragments are answered, and the fragments joined", control_frames_inside_messages)

        def through_python_websockets():
            """The same rules met by a WebSocket implementation no one here wrote, where it can produce the case."""
            url = f"ws://127.0.0.1:{api_port}/websocket"

            async def connect():
                ws = await websockets.connect(url, open_timeout=10, ping_interval=None, close_timeout=5,
                                              max_size=2 ** 24, compression=None)
                hello = strict_json(await asyncio.wait_for(ws.recv(), 10))
                expect(hello["op"] == 10, hello)
                return ws

            async def refused(send, code):
                ws = await connect()
                try:
                    await send(ws)
                    while True:
                        await asyncio.wait_for(ws.recv(), 10)
                except websockets.ConnectionClosed as closed:
                    expect(closed.rcvd is not None and closed.rcvd.code == code, f"closed with {closed.rcvd}, not {code}")

            async def cases():
                await refused(lambda ws: ws.send("x" * (MAX_MESSAGE + 1)), 1009)
                await refused(lambda ws: ws.send(["{\"op\":", "1,", "\"d\":" + " " * MAX_MESSAGE + "null}"]), 1009)
                await refused(lambda ws: ws.write_frame(True, TEXT, b'{"op":1,"d":"\xff"}'), 1007)
                await refused(lambda ws: ws.send('{"op":1} trailing'), 4002)
                # Fragments and pings: answered, then joined into one heartbeat.
                ws = await connect()
                pong = await ws.ping(b"are you there")
                await asyncio.wait_for(pong, 10)
                await ws.send(["{\"op\":", "1,\"d\":", "null}"])
                expect(strict_json(await asyncio.wait_for(ws.recv(), 10)) == {"op": 11}, "no op 11")
                await ws.send(b'{"op":1,"d":null}')  # a binary message is read like a text one
                expect(strict_json(await asyncio.wait_for(ws.recv(), 10)) == {"op": 11}, "no op 11")
                await ws.close(4000, "bye \u00e9")
                expect(ws.close_rcvd is not None and ws.close_rcvd.code == 4000, f"the close answered with {ws.close_rcvd}")
            asyncio.run(asyncio.wait_for(cases(), 60))
        checks.run("through Python's websockets: 1009 (also mid-message), 1007, 4002, fragments and pings, a close echoed",
                   through_python_websockets)

        def identify_without_waiting_for_hello():
            """An Identify (and a heartbeat) sent with the upgrade request itself, before Hello: Hello still comes
            first, then READY and op 11; a second Identify on the connection starts another session."""
            identify = frame(TEXT, json.dumps({"op": 2, "d": {"token": token, "intents": GROUP_AND_C2C_EVENT}}))
            client = RawClient(api_port, pipelined=identify + frame(TEXT, b'{"op":1,"d":1}'))
            opened.append(client)
            expect(client.recv()["op"] == 10, "Hello first")
            ready = client.recv()
            expect(ready.get("t") == "READY" and ready["s"] == 1, ready)
            expect(client.recv() == {"op": 11}, "no op 11")
            client.send(identify)
            again = client.recv()
            expect(again.get("t") == "READY" and again["d"]["session_id"] != ready["d"]["session_id"], again)
            client.close()
        checks.run("Identify before Hello arrives, and a second Identify, each get READY", identify_without_waiting_for_hello)

        def not_gateway_payloads():
            deep = '{"op":1,"d":' + "[" * 1100 + "]" * 1100 + "}"
            cases = [("hello", 4002), ("[1]", 4002), ('"x"', 4002), ("1", 4002), ("null", 4002), ("{}", 4002),
                     ("", 4002), ('{"op":1} x', 4002), ('{"op":"1"}', 4002), ('{"op":null}', 4002),
                     ('{"op":1.5}', 4002), ('{"op":1e0}', 4002), ('{"op":-1}', 4001), ('{"op":257}', 4001),
                     ('{"op":4294967297}', 4001), ('{"op":18446744073709551617}', 4002),
                     ('{"op":-9223372036854775809}', 4002), ('{"op":' + "9" * 5000 + "}", 4002),
                     ('{"op":0,"d":{}}', 4001), ('{"op":11}', 4001), ('{"op":7}', 4001), ('{"op":13,"d":{}}', 4001),
                     ('{"op":1,"s":"x"}', 4002), (deep, 4002),
                     ('{"op":2}', 4002), ('{"op":2,"d":null}', 4002), ('{"op":2,"d":"token"}', 4002),
                     ('{"op":2,"d":[]}', 4002), ('{"op":2,"d":{"token":1,"intents":1}}', 4002),
                     ('{"op":2,"d":{"token":"x"}}', 4002), ('{"op":6}', 4002), ('{"op":6,"d":7}', 4002),
                     ('{"op":6,"d":{"token":"x"}}', 4002), ('{"op":6,"d":{"token":"x","session_id":1,"seq":1}}', 4002)]
            for text, code in cases:
                refused_with(frame(TEXT, text), code, f"{text[:60]!r}")
            # A binary message is read like a text one.
            refused_with(frame(BINARY, b"\xff"), 4002, "a binary message that is not JSON")
        checks.run("frames that are not gateway payloads close with 4002, ops a client may not send with 4001",
                   not_gateway_payloads)

        def identify_and_resume_abuse():
            C = GROUP_AND_C2C_EVENT
            cases = [({"token": "QQBot nobody", "intents": C}, 4004), ({"token": "", "intents": C}, 4004),
                     ({"token": "x" * 100000, "intents": C}, 4004), ({"token": KEY[:-1], "intents": C}, 4004),
                     ({"token": token, "intents": -1}, 4002), ({"token": token, "intents": 1.5}, 4002),
                     ({"token": token, "intents": "1"}, 4002), ({"token": token, "intents": 0}, 4013),
                     ({"token": token, "intents": 1 << 40}, 4013), ({"token": token, "intents": 2 ** 64}, 4002),
                     ({"token": token, "intents": C, "shard": "x"}, 4010),
                     ({"token": token, "intents": C, "shard": [0]}, 4010),
                     ({"token": token, "intents": C, "shard": [0, 0]}, 4010),
                     ({"token": token, "intents": C, "shard": [1, 1]}, 4010),
                     ({"token": token, "intents": C, "shard": [-1, 2]}, 4010),
                     ({"token": token, "intents": C, "shard": [0, 1025]}, 4010),
                     ({"token": token, "intents": C, "shard": [0, 2 ** 64 - 1]}, 4010),
                     ({"token": token, "intents": C, "shard": [4294967296, 4294967297]}, 4010)]
            for d, code in cases:
                refused_with(frame(TEXT, json.dumps({"op": 2, "d": d})), code, f"Identify {str(d)[:80]}")
            resumes = [({"token": "QQBot nobody", "session_id": "x", "seq": 1}, 4004),
                       ({"token": token, "session_id": "x", "seq": "1"}, 4007),
                       ({"token": token, "session_id": "x", "seq": -1}, 4007),
                       ({"token": token, "session_id": "x", "seq": 2 ** 64}, 4002)]
            for d, code in resumes:
                refused_with(frame(TEXT, json.dumps({"op": 6, "d": d})), code, f"Resume {d}")
            client = raw()
            client.send_json({"op": 6, "d": {"token": token, "session_id": "no-such-session", "seq": 1}})
            messages, code, _ = client.until_closed()
            expect(messages == [{"op": 9, "d": False}] and code == 4006, f"{messages} {code}")
        checks.run("Identify and Resume with wrong or absent fields close with the platform's codes",
                   identify_and_resume_abuse)

        def memory_kib(field="VmRSS"):
            with open(f"/proc/{relay.proc.pid}/status") as f:
                return next(int(line.split()[1]) for line in f if line.startswith(f"{field}:"))

        def gauge(name):
            return metrics(metrics_port).get((name, ""), 0)

        def answers_never_read():
            """Heartbeats (11 bytes answered for 23 sent) and pings (127 for 131) from a client that never reads:
            the relay stops reading it once its queue passes api.max_client_buffer (256 KiB here), so the client's
            sends block long before 32 MiB and the relay does not grow."""
            for what, one in (("heartbeats", frame(TEXT, b'{"op":1,"d":null}')), ("pings", frame(PING, b"p" * 125))):
                before = memory_kib()
                client = raw()
                batch = one * (65536 // len(one))
                sent = 0
                started = time.monotonic()
                client.sock.settimeout(2)
                try:
                    while sent < 32 << 20 and time.monotonic() - started < 20:
                        client.sock.sendall(batch)
                        sent += len(batch)
                except socket.timeout:
                    pass
                grown = memory_kib() - before
                print(f"  {what}: {sent >> 20} MiB sent before the relay stopped reading; relay RSS {grown:+} KiB",
                      flush=True)
                expect(sent < 32 << 20, f"{what}: the relay read {sent >> 20} MiB from a client that never reads")
                expect(grown < 16 << 10, f"{what}: the relay grew by {grown} KiB")
                client.close()
        checks.run("a client that sends heartbeats or pings and never reads is no longer read; the relay does not grow",
                   answers_never_read)

        def never_reads_live_events():
            """A client that stops reading while events stream to it: 4009 once more than api.max_client_buffer is
            queued (counted), and its connection cut within 10 s of the close, whatever the relay still holds for
            it."""
            client = RawClient(api_port, receive_buffer=4096)
            opened.append(client)
            client.recv()
            client.send_json({"op": 2, "d": {"token": token, "intents": GROUP_AND_C2C_EVENT}})
            port = client.sock.getsockname()[1]
            overflows = gauge("qq_relay_downstream_buffer_overflows_total")
            expect(holds_connection(relay.proc.pid, api_port, port), "no connection in the relay")
            # Pings until the kernel's buffers are full and the relay holds pongs of its own: the close frame
            # then waits behind them, and only a cut ends the connection.
            pings = frame(PING, b"p" * 125) * 500
            client.sock.settimeout(1)
            try:
                for _ in range(200):
                    client.sock.sendall(pings)
            except socket.timeout:
                pass
            sim.post("/_sim/generate", {"count": 300, "rate": 0, "size": 2000})
            wait_for(lambda: gauge("qq_relay_downstream_buffer_overflows_total") == overflows + 1, 30, "the 4009")
            closed_at = time.monotonic()
            wait_for(lambda: not holds_connection(relay.proc.pid, api_port, port), 40, "the connection cut")
            took = time.monotonic() - closed_at
            print(f"  cut {took:.1f} s after the 4009", flush=True)
            # The close grace is checked once a second: 10 to 11 s, and far from the 30 s it once was.
            expect(took < 15, f"cut {took:.1f} s after the close, not within about 10 s")
            client.close()
        checks.run("a client that never reads is closed with 4009, counted, and cut within 10 s of the close",
                   never_reads_live_events)

        def announced_lengths_claim_nothing():
            """50 connections that each send a header announcing 1 MiB and then 10 bytes: the relay's buffers grow
            with what arrives."""
            before = memory_kib("VmSize")
            clients = []
            for _ in range(50):
                client = raw()
                client.send(frame(TEXT, b"", length=MAX_MESSAGE) + b"x" * 10)
                clients.append(client)
            probe = raw()
            for _ in range(3):  # the relay has read what came before
                probe.send_json({"op": 1, "d": None})
                expect(probe.recv() == {"op": 11}, "no op 11")
            grown = memory_kib("VmSize") - before
            print(f"  address space {grown:+} KiB", flush=True)
            expect(grown < 16 << 10, f"50 headers of 1 MiB claimed {grown} KiB")
            for client in clients + [probe]:
                client.close()
        checks.run("a frame header announcing 1 MiB claims no memory until the bytes arrive",
                   announced_lengths_claim_nothing)

        def identify_flood_on_one_connection():
            client = raw()
            ids = set()
            batch = frame(TEXT, json.dumps({"op": 2, "d": {"token": token, "intents": GROUP_AND_C2C_EVENT}})) * 100
            for _ in range(30):
                client.send(batch)
                for _ in range(100):
                    while (message := client.recv()).get("t") != "READY":
                        pass
                    ids.add(message["d"]["session_id"])
            expect(len(ids) == 3000, f"{len(ids)} sessions")
            detached = gauge("qq_relay_downstream_detached_sessions")
            expect(detached == 1000, f"{detached} detached sessions")
            client.close()
        checks.run("3000 Identifies on one connection: each a new session, detached sessions capped at 1000",
                   identify_flood_on_one_connection)

        def flood_does_not_stall_others():
            """One client sends heartbeats as fast as it can (reading the answers); another's round trip stays
            short."""
            other = raw()
            flooder = raw()
            batch = frame(TEXT, b'{"op":1,"d":null}') * 2000
            answers = [0]
            done = threading.Event()

            def drain():
                try:
                    while not done.is_set():
                        flooder.read_frame(5)
                        answers[0] += 1
                except OSError:
                    pass

            def flood():
                end = time.monotonic() + 5
                while time.monotonic() < end:
                    flooder.send(batch)
                done.set()
            threads = [threading.Thread(target=drain, daemon=True), threading.Thread(target=flood, daemon=True)]
            for thread in threads:
                thread.start()
            rtts = []
            while not done.is_set():
                started = time.monotonic()
                other.send_json({"op": 1, "d": None})
                expect(other.recv() == {"op": 11}, "no op 11")
                rtts.append(time.monotonic() - started)
            rtts.sort()
            print(f"  {answers[0]} flood answers read; the other client's round trip: median "
                  f"{rtts[len(rtts) // 2] * 1000:.1f} ms, max {rtts[-1] * 1000:.1f} ms over {len(rtts)}", flush=True)
            expect(answers[0] > 10000, f"only {answers[0]} answers to the flood")
            expect(rtts[-1] < 1.0, f"a round trip of {rtts[-1]:.2f} s during the flood")
            flooder.close()
            threads[0].join(10)
            other.close()
        checks.run("a flood of small frames from one client does not stall another", flood_does_not_stall_others)

        def connection_cap():
            """api.max_connections (64 here) counts WebSocket connections; one more is closed before any byte."""
            for client in opened:
                client.close()
            wait_for(lambda: gauge("qq_relay_downstream_connections") == 0, 20, "no connection left")
            clients = [raw() for _ in range(64)]
            try:
                RawClient(api_port, timeout=5)
                raise AssertionError("a 65th connection was upgraded")
            except (ConnectionError, AssertionError) as error:
                expect("65th" not in str(error), str(error))
            clients.pop().close()
            wait_for(lambda: gauge("qq_relay_downstream_connections") == 63, 10, "a connection closed")
            clients.append(raw())
            for client in clients:
                client.close()
            wait_for(lambda: gauge("qq_relay_downstream_connections") == 0, 20, "every connection closed")
        checks.run("connections beyond api.max_connections are refused", connection_cap)

        def refusals_log_little():
            """Anyone can connect: 300 refused connections of each kind write at most a line per kind per 10 s."""
            started = time.monotonic()
            log_before = len(relay.log_text().splitlines())
            for n in range(300):
                client = raw()
                client.send(frame(TEXT, b"not json") if n % 3 == 0 else frame(TEXT, b"{}", masked=False)
                            if n % 3 == 1 else frame(TEXT, json.dumps({"op": 2, "d": {"token": "x", "intents": 1}})))
                client.until_closed()
                client.close()
                opened.remove(client)
                with socket.create_connection(("127.0.0.1", api_port), timeout=5) as s:
                    s.sendall(b"GET /websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                              b"Connection: Upgrade\r\n\r\n")
                    answer = b""
                    while b"\r\n\r\n" not in answer:
                        answer += s.recv(4096)
            windows = int((time.monotonic() - started) / 10) + 1
            lines = relay.log_text().splitlines()[log_before:]
            print(f"  {len(lines)} log lines for 1200 refusals in {time.monotonic() - started:.1f} s", flush=True)
            expect(len(lines) <= 4 * windows, f"{len(lines)} log lines: {lines[:8]}")
        checks.run("refused connections from anyone are logged at most once per 10 s per kind", refusals_log_little)

        def upgrade_refusals_are_json():
            cases = [(b"", 426), (b"Sec-WebSocket-Version: 8\r\n", 426), (b"Sec-WebSocket-Version: 13\r\n", 400),
                     (b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: short\r\n", 400)]
            for extra, status in cases:
                with socket.create_connection(("127.0.0.1", api_port), timeout=5) as s:
                    s.sendall(b"GET /websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                              + extra + b"\r\n")
                    answer = b""
                    while b"\r\n\r\n" not in answer:
                        answer += s.recv(4096)
                    head, body = answer.split(b"\r\n\r\n", 1)
                    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                                      if line.lower().startswith(b"content-length:")))
                    while len(body) < length:
                        body += s.recv(4096)
                    expect(head.startswith(f"HTTP/1.1 {status} ".encode()), head)
                    document = strict_json(body.decode("utf-8"))
                    expect(document["code"] == status and document["message"], document)
        checks.run("a refused upgrade is answered 400 or 426 with a JSON body naming the same code",
                   upgrade_refusals_are_json)

        def everything_sent_was_json():
            # Every text message every raw client received was parsed strictly as it arrived (RawClient.recv).
            texts = sum(len(client.texts) for client in opened)
            expect(texts > 3000, f"only {texts} messages checked")
        checks.run("every message the relay sent was one JSON document in UTF-8", everything_sent_was_json)

    except BaseException:
        checks.failed += 1  # keep the logs
        raise
    finally:
        for client in opened:
            client.close()
        tear_down(checks, tmp, *parts)
    checks.finish()


if __name__ == "__main__":
    main()
