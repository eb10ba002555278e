#!/usr/bin/python3
"""The [api] listener against hostile or broken HTTP clients, and the forwarder against a broken platform
(docs/api.md, docs/security.md).

One relay forwards to the simulator: request smuggling and malformed heads are refused and reach nothing
upstream; pipelined answers come in order; slowloris heads and bodies, a body that never ends, and a client
that never reads its answers are all cut at api.request_timeout while other clients are served; HTTP/1.0 and
Expect: 100-continue; methods the platform has no use for and dot-segment paths are not forwarded; the token
exchange hands out one token per client however often it is asked; queue overflow is answered 503 and counted;
no key or token is logged.
A second relay forwards to a tiny raw-socket platform written here: what goes upstream is exactly the
request line, Host, the relay's Authorization, X-Union-Appid, Content-Type and Content-Length (no hop-by-hop
or other client header), and every malformed answer of that platform gets the client a 502 or 504 in time,
never a crash or a hang.
Environment: QQ_RELAY_BIN, QQ_SIM_BIN.
"""
import json
import os
import socket
import threading
import time
import urllib.request

from harness import Checks, Relay, Sim, expect, relay_config, tear_down, wait_for, workdir
from webhook_client import accepts_connections, free_port

APP_ID = "102000000"
KEY = "h" * 20 + "-hostile-key-0123456789"
REQUEST_TIMEOUT = 2  # api.request_timeout for both relays
UPSTREAM_TIMEOUT = 3


# --- Raw HTTP on sockets -----------------------------------------------------------------------------------

def connect(port, timeout=10):
    return socket.create_connection(("127.0.0.1", port), timeout=timeout)


class Answer:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def __repr__(self):
        return f"Answer({self.status}, {self.headers}, {self.body[:200]!r})"


class Reader:
    """Reads answers off one socket, in order, each with its Content-Length body."""

    def __init__(self, sock):
        self.sock = sock
        self.buffer = b""

    def _more(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError(f"closed; unread {self.buffer[:200]!r}")
        self.buffer += chunk

    def answer(self):
        while b"\r\n\r\n" not in self.buffer:
            self._more()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {}
        for line in lines[1:]:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        while len(self.buffer) < length:
            self._more()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return Answer(status, headers, body)

    def closed(self):
        """True when the peer closes the connection (no more bytes) before the socket's timeout."""
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buffer += chunk
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False


def exchange(port, raw, timeout=10):
    """Sends raw bytes; returns the first answer (or None when the connection closed first) and whether the
    relay closed the connection after it."""
    with connect(port, timeout) as s:
        s.sendall(raw)
        reader = Reader(s)
        try:
            answer = reader.answer()
        except (EOFError, ConnectionResetError):
            return None, True
        return answer, reader.closed()


def get(key=KEY, path="/users/@me", extra=""):
    auth = f"Authorization: Bearer {key}\r\n" if key else ""
    return f"GET {path} HTTP/1.1\r\nHost: relay\r\n{auth}{extra}\r\n".encode()


def call(port, method, path, body=None, headers=None, timeout=20):
    data = json.dumps(body).encode() if body is not None else None
    head = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    if data is not None:
        head += f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
    raw = f"{method} {path} HTTP/1.1\r\nHost: relay\r\nConnection: close\r\n{head}\r\n".encode() + (data or b"")
    answer, _ = exchange(port, raw, timeout)
    expect(answer is not None, f"{method} {path}: no answer")
    return answer


# --- A platform that answers badly -------------------------------------------------------------------------

BAD_ANSWERS = {
    "/bad/garbage": b"garbage\r\n\r\n",
    "/bad/bare-lf": b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok",
    "/bad/cl-te": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "/bad/two-lengths": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc",
    "/bad/obs-fold": b"HTTP/1.1 200 OK\r\nX-Tps-trace-ID: a\r\n b\r\nContent-Length: 0\r\n\r\n",
    "/bad/control": b"HTTP/1.1 200 OK\r\nX-Tps-trace-ID: a\x00b\r\nContent-Length: 0\r\n\r\n",
    "/bad/huge-head": b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 20000 + b"\r\nContent-Length: 0\r\n\r\n",
    "/bad/chunk-size": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    "/bad/chunk-overflow": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1ffffffffffffffff\r\n",
    "/bad/short-body": b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this",
    "/bad/too-large": b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n",
    "/bad/switch": b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
    "/bad/status": b"HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n",
    "/bad/version": b"HTTP/2 200\r\nContent-Length: 0\r\n\r\n",
    "/bad/interim": b"HTTP/1.1 100 Continue\r\n\r\n" * 20,
    "/bad/nothing": b"",
}
HANGING = {
    "/bad/silent": None,  # reads the request, never answers
    "/bad/stalls": b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nsome",  # then nothing
}


class BadPlatform:
    """A raw-socket 'platform': records every request head it receives, answers each path as listed, proxies
    /gateway/bot to the simulator (so that the relay's shard connects)."""

    def __init__(self, sim):
        self.sim = sim
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.heads = []
        self.bodies = []
        self.lock = threading.Lock()
        self.open = []
        self.stopping = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopping:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.open.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        conn.settimeout(30)
        buffer = b""
        try:
            while True:
                while b"\r\n\r\n" not in buffer:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                head, buffer = buffer.split(b"\r\n\r\n", 1)
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                while len(buffer) < length:
                    buffer += conn.recv(65536)
                body, buffer = buffer[:length], buffer[length:]
                with self.lock:
                    self.heads.append(head)
                    self.bodies.append(body)
                path = head.split(b" ")[1].decode()
                if path in BAD_ANSWERS:
                    conn.sendall(BAD_ANSWERS[path])
                    return
                if path in HANGING:
                    if HANGING[path]:
                        conn.sendall(HANGING[path])
                    while conn.recv(65536):
                        pass
                    return
                if path.startswith("/gateway"):
                    auth = [line.split(b":", 1)[1].strip().decode() for line in head.split(b"\r\n")
                            if line.lower().startswith(b"authorization:")]
                    req = urllib.request.Request(self.sim.base + path, headers={"Authorization": auth[0]})
                    with urllib.request.urlopen(req, timeout=10) as r:
                        payload = r.read()
                else:
                    payload = json.dumps({"id": "U1", "echo": path}).encode()
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Tps-trace-ID: t1\r\n"
                             b"Set-Cookie: a=b\r\nContent-Length: " + str(len(payload)).encode() + b"\r\n\r\n" +
                             payload)
        except (OSError, ValueError):
            return
        finally:
            conn.close()

    def clear(self):
        with self.lock:
            self.heads.clear()
            self.bodies.clear()

    def close(self):
        self.stopping = True
        self.listener.close()
        for conn in self.open:
            try:
                conn.close()
            except OSError:
                pass


# --- The relays --------------------------------------------------------------------------------------------

class Setup:
    def __init__(self, tmp, sim, api_base=None, name="relay"):
        self.sim = sim
        self.api_port = free_port()
        self.metrics_port = free_port()
        os.makedirs(os.path.join(tmp, name), exist_ok=True)
        clients_file = os.path.join(tmp, name, "clients")
        with open(clients_file, "w") as f:
            f.write(f"hostile {KEY}\n")
        config = relay_config(sim, f"ipc://{tmp}/{name}.sock", f"{tmp}/{name}/state") + f"""
[api]
enabled = true
listen = "127.0.0.1:{self.api_port}"
clients_file = "{clients_file}"
upstream_timeout = {UPSTREAM_TIMEOUT}
request_timeout = {REQUEST_TIMEOUT}
max_in_flight = 1
max_queued = 1
max_connections = 64
max_body = 65536
[metrics]
listen = "127.0.0.1:{self.metrics_port}"
"""
        if api_base:
            config = config.replace(f'api_base = "{sim.base}"', f'api_base = "{api_base}"')
        # In a sanitizer build ASan would keep freed memory in its quarantine, and the memory checks would
        # measure that instead of what the relay holds.
        asan = os.environ.get("ASAN_OPTIONS", "")
        self.relay = Relay(tmp, config, "--log-level", "trace", name=name,
                           env=dict(os.environ, ASAN_OPTIONS=f"{asan}:quarantine_size_mb=0".lstrip(":")))

    def ready(self):
        wait_for(lambda: self.relay.proc.poll() is not None or accepts_connections(self.api_port), 30,
                 "the api listener")
        expect(self.relay.proc.poll() is None, "the relay exited: " + self.relay.log_text()[-2000:])
        wait_for(lambda: call(self.api_port, "GET", "/users/@me", headers={"Authorization": f"Bearer {KEY}"})
                 .status == 200, 30, "a first answer through the relay (it has a token)")

    def metric(self, name, labels=""):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10) as r:
                text = r.read().decode()
        except OSError:
            return None
        for line in text.splitlines():
            if line.startswith(name + labels + " "):
                return float(line.split()[1])
        return None

    def rss_kib(self, field="VmRSS"):
        with open(f"/proc/{self.relay.proc.pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        return 0

    def alive(self):
        return self.relay.proc.poll() is None

    def close(self):
        self.relay.close()


def sim_recorded(sim):
    return sim.get("/_sim/api/requests")["requests"]


def sim_clear(sim):
    sim.post("/_sim/api/requests/clear", {})


# --- Checks against the simulator --------------------------------------------------------------------------

SMUGGLING = [
    ("Content-Length with Transfer-Encoding",
     "POST /users/@me HTTP/1.1\r\nHost: r\r\n{auth}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
     "0\r\n\r\n", (400,)),
    ("two different Content-Lengths",
     "POST /users/@me HTTP/1.1\r\nHost: r\r\n{auth}Content-Length: 2\r\nContent-Length: 3\r\n\r\nabc", (400,)),
    ("a coding other than chunked", "POST /users/@me HTTP/1.1\r\nHost: r\r\n{auth}Transfer-Encoding: gzip\r\n\r\n",
     (501,)),
    ("chunked twice", "POST /users/@me HTTP/1.1\r\nHost: r\r\n{auth}Transfer-Encoding: chunked, chunked\r\n\r\n",
     (501,)),
    ("a chunk size that is not hex",
     "POST /users/@me HTTP/1.1\r\nHost: r\r\n{auth}Transfer-Encoding: chunked\r\n\r\n-1\r\n", (400,)),
    ("a chunk size over 64 bits",
     "POST /users/@me HTTP/1.1\r\nHost: r\r\n{auth}Transfer-Encoding: chunked\r\n\r\n1ffffffffffffffff\r\n", (400,)),
    ("a chunk larger than max_body",
     "POST /users/@me HTTP/1.1\r\nHost: r\r\n{auth}Transfer-Encoding: chunked\r\n\r\nfffffff\r\n", (413,)),
    ("a bare CR in a chunk extension",
     "POST /users/@me HTTP/1.1\r\nHost: r\r\n{auth}Transfer-Encoding: chunked\r\n\r\n2;a\rb\r\nhi\r\n0\r\n\r\n",
     (400,)),
    ("a NUL in a chunk extension",
     "POST /users/@me HTTP/1.1\r\nHost: r\r\n{auth}Transfer-Encoding: chunked\r\n\r\n2;a\x00\r\nhi\r\n0\r\n\r\n",
     (400,)),
    ("an obs-folded trailer",
     "POST /users/@me HTTP/1.1\r\nHost: r\r\n{auth}Transfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\nX: a\r\n b\r\n\r\n",
     (400,)),
    ("obs-fold", "GET /users/@me HTTP/1.1\r\nHost: r\r\n{auth}X-A: 1\r\n 2\r\n\r\n", (400,)),
    ("a bare LF", "GET /users/@me HTTP/1.1\nHost: r\n{auth}\n", (400, 431)),
    ("a bare CR in a value", "GET /users/@me HTTP/1.1\r\nHost: r\r\n{auth}X-A: 1\r2\r\n\r\n", (400,)),
    ("a NUL in a value", "GET /users/@me HTTP/1.1\r\nHost: r\r\n{auth}X-A: 1\x002\r\n\r\n", (400,)),
    ("a NUL in the target", "GET /users/@me\x00 HTTP/1.1\r\nHost: r\r\n{auth}\r\n", (400,)),
    ("a space before the colon", "GET /users/@me HTTP/1.1\r\nHost: r\r\n{auth}Content-Length : 5\r\n\r\n", (400,)),
    ("an absolute-form target", "GET http://api.sgroup.qq.com/users/@me HTTP/1.1\r\nHost: r\r\n{auth}\r\n", (400,)),
    ("CONNECT", "CONNECT api.sgroup.qq.com:443 HTTP/1.1\r\nHost: api.sgroup.qq.com:443\r\n{auth}\r\n", (400,)),
    ("OPTIONS *", "OPTIONS * HTTP/1.1\r\nHost: r\r\n{auth}\r\n", (400,)),
    ("two Host fields", "GET /users/@me HTTP/1.1\r\nHost: a\r\nHost: b\r\n{auth}\r\n", (400,)),
    ("HTTP/2.0", "GET /users/@me HTTP/2.0\r\nHost: r\r\n{auth}\r\n", (505,)),
    ("HTTP/0.9", "GET /users/@me\r\n\r\n", (400,)),
    ("101 header fields", "GET /users/@me HTTP/1.1\r\nHost: r\r\n{auth}" + "X-A: 1\r\n" * 101 + "\r\n", (431,)),
    ("a head over 16 KiB", "GET /users/@me HTTP/1.1\r\nHost: r\r\n{auth}X-A: " + "a" * 17000 + "\r\n\r\n", (431,)),
]


def check_smuggling(checks, setup):
    def refused():
        sim_clear(setup.sim)
        auth = f"Authorization: Bearer {KEY}\r\n"
        problems = []
        for name, text, statuses in SMUGGLING:
            answer, closed = exchange(setup.api_port, text.format(auth=auth).encode("latin-1"))
            if answer is None or answer.status not in statuses or not closed:
                problems.append(f"{name}: {answer} closed={closed}")
        expect(not problems, "; ".join(problems))
        expect(sim_recorded(setup.sim) == [], f"reached the platform: {sim_recorded(setup.sim)}")
        expect(setup.alive(), "the relay died")
    checks.run("smuggling and malformed heads are refused, the connection closed, nothing forwarded", refused)

    def after_a_refusal_nothing_more_is_read():
        # The bytes after a refused head must not be read as a request of their own.
        text = ("POST /users/@me HTTP/1.1\r\nHost: r\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
                "0\r\n\r\n" + get().decode())
        sim_clear(setup.sim)
        with connect(setup.api_port) as s:
            s.sendall(text.encode())
            reader = Reader(s)
            expect(reader.answer().status == 400, "first answer")
            expect(reader.closed(), "the connection stayed open after a refused head")
        expect(sim_recorded(setup.sim) == [], "the smuggled request reached the platform")
    checks.run("a smuggled second request after a refused head is never read", after_a_refusal_nothing_more_is_read)


def check_strangers_hold_nothing(checks, setup):
    def peak_unchanged():
        # First of all the checks, while the relay's peak memory is still its start-up one.
        peak_before = setup.rss_kib("VmHWM")
        head = b"POST /v2/users/U1/messages HTTP/1.1\r\nHost: r\r\nContent-Length: 65536\r\n\r\n"
        strangers = [connect(setup.api_port) for _ in range(40)]
        try:
            for c in strangers:
                c.sendall(head + b"x" * 65000)
            for c in strangers:
                c.sendall(b"x" * 536)
            for c in strangers:
                answer = Reader(c).answer()
                expect(answer.status == 401, answer)
        finally:
            for c in strangers:
                c.close()
        grown = setup.rss_kib("VmHWM") - peak_before
        print(f"  peak grew by {grown} KiB", flush=True)
        expect(grown < 1024, f"the relay's peak grew by {grown} KiB for 40 strangers' 64 KiB bodies")
    checks.run("40 clients without a key sending 64 KiB bodies at once: the relay's peak memory grows < 1 MiB",
               peak_unchanged)


def check_pipelining(checks, setup):
    def answers_in_order():
        with connect(setup.api_port) as s:
            s.sendall(get() + get(key=None) + get(path="/users/@me/guilds") + get(key="w" * 40) + get())
            reader = Reader(s)
            statuses = [reader.answer().status for _ in range(5)]
        expect(statuses == [200, 401, 404, 401, 200], statuses)  # the simulator knows no /users/@me/guilds
    checks.run("five pipelined requests are answered in order", answers_in_order)


def check_deadlines(checks, setup):
    limit = REQUEST_TIMEOUT + 3  # lws checks its timeouts once a second

    def trickled(prefix, drip):
        with connect(setup.api_port, timeout=1) as s:
            s.sendall(prefix)
            started = time.monotonic()
            while time.monotonic() - started < limit + 5:
                try:
                    s.sendall(drip)
                except OSError:
                    break
                try:
                    if s.recv(4096) == b"":
                        break
                except socket.timeout:
                    pass
                except OSError:
                    break
            else:
                raise AssertionError(f"still open after {limit + 5} s of trickling")
            return time.monotonic() - started

    def slowloris_head():
        took = trickled(b"GET /users/@me HTTP/1.1\r\nHost: r\r\n", b"X-A: 1\r\n")
        expect(took <= limit, f"closed after {took:.1f} s")
    checks.run("a head trickled a line a second is cut at request_timeout", slowloris_head)

    def slowloris_body():
        took = trickled(f"POST /users/@me HTTP/1.1\r\nHost: r\r\nAuthorization: Bearer {KEY}\r\n"
                        "Content-Length: 60000\r\n\r\n".encode(), b"a")
        expect(took <= limit, f"closed after {took:.1f} s")
    checks.run("a body trickled a byte a second is cut at request_timeout", slowloris_body)

    def endless_chunks():
        took = trickled(f"POST /users/@me HTTP/1.1\r\nHost: r\r\nAuthorization: Bearer {KEY}\r\n"
                        "Transfer-Encoding: chunked\r\n\r\n".encode(), b"1\r\na\r\n")
        expect(took <= limit, f"closed after {took:.1f} s")
    checks.run("a chunked body that never ends is cut at request_timeout", endless_chunks)

    def never_reads_its_answers():
        def answered():
            return setup.metric("qq_relay_api_refused_total", '{reason="unauthorized"}') or 0
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(10)
        s.connect(("127.0.0.1", setup.api_port))
        try:
            s.setblocking(False)
            # Small requests, each answered by a larger 401, in batches well under what the relay holds unread:
            # the answers pile up in the socket buffers until the relay cannot write any more.
            batch = b"GET /x HTTP/1.1\r\nHost: r\r\n\r\n" * 100
            before = answered()
            last, last_change = before, time.monotonic()
            deadline = time.monotonic() + 30
            while time.monotonic() - last_change < 1.0:
                expect(time.monotonic() < deadline, "the relay went on answering a client that reads nothing")
                try:
                    s.send(batch)
                except BlockingIOError:
                    pass
                time.sleep(0.01)
                now = answered()
                if now != last:
                    last, last_change = now, time.monotonic()
            expect(last - before > 100, f"only {last - before} answers")
            stuck = last_change
            expect(call(setup.api_port, "GET", "/users/@me", headers={"Authorization": f"Bearer {KEY}"}).status
                   == 200, "another client was not served meanwhile")
            # Without a limit on writing answers the connection would stay for ever.
            wait_for(lambda: setup.metric("qq_relay_listener_connections", '{listener="api"}') == 0,
                     REQUEST_TIMEOUT + 10, "the relay closing the connection of a client that reads nothing")
            print(f"  closed {time.monotonic() - stuck:.1f} s after its last answer", flush=True)
        finally:
            s.close()
    checks.run("a client that never reads its answers is disconnected at request_timeout; others are served",
               never_reads_its_answers)


def check_versions(checks, setup):
    def http_1_0():
        answer, closed = exchange(setup.api_port, f"GET /users/@me HTTP/1.0\r\nAuthorization: Bearer {KEY}\r\n\r\n"
                                  .encode())
        expect(answer and answer.status == 200 and closed, f"{answer} closed={closed}")
        with connect(setup.api_port) as s:
            s.sendall(f"GET /users/@me HTTP/1.0\r\nConnection: keep-alive\r\nAuthorization: Bearer {KEY}\r\n\r\n"
                      .encode() * 2)
            reader = Reader(s)
            expect([reader.answer().status, reader.answer().status] == [200, 200], "keep-alive 1.0")
    checks.run("HTTP/1.0: closed after the answer, unless keep-alive", http_1_0)

    def expect_continue():
        body = b'{"content":"x","msg_type":0,"msg_id":"M-continue"}'
        with connect(setup.api_port) as s:
            s.sendall(f"POST /v2/users/U1/messages HTTP/1.1\r\nHost: r\r\nAuthorization: Bearer {KEY}\r\n"
                      f"Content-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: {len(body)}\r\n\r\n"
                      .encode())
            reader = Reader(s)
            expect(reader.answer().status == 100, "no 100 Continue")
            s.sendall(body)
            answer = reader.answer()
            expect(answer.status == 200, f"after the body: {answer}")
        answer, closed = exchange(setup.api_port, f"POST /v2/users/U1/messages HTTP/1.1\r\nHost: r\r\n"
                                  f"Authorization: Bearer {KEY}\r\nExpect: 100-continue\r\n"
                                  "Content-Length: 70000\r\n\r\n".encode())
        expect(answer and answer.status == 413 and closed, f"a body over max_body: {answer}")
    checks.run("Expect: 100-continue gets 100 then the answer; over max_body 413 without 100", expect_continue)


def check_forwarding_rules(checks, setup):
    auth = {"Authorization": f"Bearer {KEY}"}

    def methods():
        sim_clear(setup.sim)
        for method in ("TRACE", "CONNECT", "OPTIONS", "PROPFIND", "FOO"):
            answer = call(setup.api_port, method, "/users/@me", headers=auth)
            expect(answer.status == 405, f"{method}: {answer}")
        expect(sim_recorded(setup.sim) == [], f"forwarded: {[e['method'] for e in sim_recorded(setup.sim)]}")
        for method in ("GET", "HEAD", "DELETE"):
            call(setup.api_port, method, "/users/@me", headers=auth)
        forwarded = [e["method"] for e in sim_recorded(setup.sim)]
        expect(forwarded == ["GET", "HEAD", "DELETE"], f"forwarded: {forwarded}")
    checks.run("only the methods of the OpenAPI are forwarded; TRACE, CONNECT and others get 405", methods)

    def paths():
        sim_clear(setup.sim)
        for path in ("/v2/groups/G1/../../users/@me", "/users/./@me", "/users/%2e%2e/x", "/users/%2E./x",
                     "/a/..", "/users/@me#frag", "/users\\..\\x"):
            answer = call(setup.api_port, "GET", path, headers=auth)
            expect(answer.status == 400, f"{path}: {answer}")
        expect(sim_recorded(setup.sim) == [], f"forwarded: {[e['path'] for e in sim_recorded(setup.sim)]}")
        expect(call(setup.api_port, "GET", "/users/@me?a=..%2F", headers=auth).status == 200, "a query is a query")
    checks.run("dot segments, fragments and backslashes in the path are refused, not forwarded", paths)

    def two_authorizations():
        sim_clear(setup.sim)
        answer, _ = exchange(setup.api_port, get(extra="Authorization: Bearer " + "z" * 40 + "\r\n"))
        expect(answer and answer.status == 400, f"{answer}")
        expect(sim_recorded(setup.sim) == [], "forwarded")
    checks.run("two Authorization fields are refused", two_authorizations)


def check_auth(checks, setup):
    def token_exchange_bounded():
        tokens = set()
        with connect(setup.api_port) as s:
            reader = Reader(s)
            body = json.dumps({"appId": APP_ID, "clientSecret": KEY}).encode()
            request = (f"POST /app/getAppAccessToken HTTP/1.1\r\nHost: r\r\nContent-Type: application/json\r\n"
                       f"Content-Length: {len(body)}\r\n\r\n").encode() + body
            for _ in range(10):
                s.sendall(request * 50)
                for _ in range(50):
                    answer = reader.answer()
                    expect(answer.status == 200, answer)
                    tokens.add(json.loads(answer.body)["access_token"])
        expect(len(tokens) == 1, f"{len(tokens)} tokens for one client")
        refused = setup.metric("qq_relay_api_refused_total", '{reason="unauthorized"}')
        bad = call(setup.api_port, "POST", "/app/getAppAccessToken", {"appId": APP_ID, "clientSecret": "x" * 40})
        expect(bad.status == 401, bad)
        expect(setup.metric("qq_relay_api_refused_total", '{reason="unauthorized"}') == refused + 1, "not counted")
        answer = call(setup.api_port, "GET", "/users/@me", headers={"Authorization": "QQBot " + tokens.pop()})
        expect(answer.status == 200, answer)
    checks.run("500 token exchanges give one token; a wrong secret is 401 and counted", token_exchange_bounded)

    def keys_refused():
        sim_clear(setup.sim)
        for header in ("", "Bearer", "Bearer ", f"Bearer  {KEY}x", f"bearer {KEY}", f"Basic {KEY}",
                       f"QQBot {KEY}", f"Bot {APP_ID}", f"Bearer {KEY[:-1]}", "QQBot " + "A" * 43):
            answer = call(setup.api_port, "GET", "/users/@me", headers={"Authorization": header} if header else {})
            expect(answer.status == 401 and json.loads(answer.body)["code"] == 11244, f"{header!r}: {answer}")
        expect(sim_recorded(setup.sim) == [], "a refused request was forwarded")
    checks.run("no key, a wrong key, a wrong scheme: 401 and nothing forwarded", keys_refused)

    def strangers_bodies_not_kept():
        sim_clear(setup.sim)
        # With Expect: 100-continue, a request without a key gets 401 instead of 100, and the connection ends.
        answer, closed = exchange(setup.api_port, b"POST /v2/users/U1/messages HTTP/1.1\r\nHost: r\r\n"
                                  b"Expect: 100-continue\r\nContent-Length: 60000\r\n\r\n")
        expect(answer and answer.status == 401 and closed, f"{answer} closed={closed}")
        # Without it, the body is read (and thrown away) and the connection stays usable.
        with connect(setup.api_port) as s:
            s.sendall(b"POST /v2/users/U1/messages HTTP/1.1\r\nHost: r\r\nAuthorization: Bearer " + b"w" * 40 +
                      b"\r\nContent-Length: 60000\r\n\r\n" + b"a" * 1000)
            reader = Reader(s)
            s.settimeout(0.5)
            expect(reader.closed() is False, "the relay closed before the body")
            s.settimeout(10)
            s.sendall(b"a" * 59000 + get())
            statuses = [reader.answer().status, reader.answer().status]
            expect(statuses == [401, 200], statuses)
        expect([e["path"] for e in sim_recorded(setup.sim)] == ["/users/@me"], "a refused body was forwarded")
    checks.run("a body without a valid key is never kept: 401 instead of 100 Continue, or read and dropped",
               strangers_bodies_not_kept)

    def queue_full_counted():
        busy = setup.metric("qq_relay_api_refused_total", '{reason="busy"}')
        setup.sim.post("/_sim/fault", {"kind": "api_slow", "delay_ms": 1500, "count": 2})
        results = []

        def one():
            results.append(call(setup.api_port, "GET", "/users/@me", headers={"Authorization": f"Bearer {KEY}"}))
        threads = [threading.Thread(target=one) for _ in range(2)]
        for t in threads:
            t.start()
        wait_for(lambda: setup.metric("qq_relay_api_in_flight") == 1 and setup.metric("qq_relay_api_queued") == 1,
                 10, "one in flight, one queued")
        refused = call(setup.api_port, "GET", "/users/@me", headers={"Authorization": f"Bearer {KEY}"})
        for t in threads:
            t.join(20)
        expect(refused.status == 503 and refused.headers.get("retry-after") == "1", refused)
        expect(sorted(r.status for r in results) == [200, 200], results)
        expect(setup.metric("qq_relay_api_refused_total", '{reason="busy"}') == busy + 1, "the 503 not counted")
    checks.run("max_in_flight 1, max_queued 1: the third is 503 with Retry-After, counted", queue_full_counted)


# --- Checks against the bad platform -----------------------------------------------------------------------

def check_bad_platform(checks, setup, platform):
    def what_goes_upstream():
        platform.clear()
        body = b'{"content":"hi"}'
        chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
        raw = (f"POST /v2/users/U1/messages?x=1 HTTP/1.1\r\nHost: evil.example\r\nAuthorization: Bearer {KEY}\r\n"
               "Connection: keep-alive, X-Secret\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\nUpgrade: h2c\r\n"
               "Proxy-Authorization: Basic eDp5\r\nCookie: s=1\r\nX-Forwarded-For: 1.2.3.4\r\nX-Secret: s\r\n"
               "X-Union-Appid: 999\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
               ).encode() + chunked
        answer, _ = exchange(setup.api_port, raw)
        expect(answer and answer.status == 200, answer)
        expect("set-cookie" not in answer.headers, f"the platform's cookie came back: {answer.headers}")
        # Only this request: the relay's own calls to the platform (/gateway/bot after a reconnect, say) may come
        # meanwhile.
        with platform.lock:
            mine = [(h, b) for h, b in zip(platform.heads, platform.bodies)
                    if h.startswith(b"POST /v2/users/U1/messages")]
        expect(len(mine) == 1, f"{len(mine)} such requests reached the platform")
        [(head, forwarded_body)] = mine
        lines = head.decode().split("\r\n")
        expect(lines[0] == "POST /v2/users/U1/messages?x=1 HTTP/1.1", lines[0])
        names = sorted(line.split(":", 1)[0].lower() for line in lines[1:])
        expect(names == ["authorization", "content-length", "content-type", "host", "x-union-appid"], names)
        fields = {line.split(":", 1)[0].lower(): line.split(":", 1)[1].strip() for line in lines[1:]}
        expect(fields["authorization"].startswith("QQBot ") and KEY not in head.decode(), "the client's key went up")
        expect(fields["x-union-appid"] == APP_ID and fields["host"] == f"127.0.0.1:{platform.port}", fields)
        expect(forwarded_body == body, forwarded_body)
    checks.run("upstream gets only the request line, Host, the relay's token, X-Union-Appid and the body's type "
               "and length", what_goes_upstream)

    def malformed_answers():
        problems = []
        results = {}

        def one(path):
            started = time.monotonic()
            try:
                answer = call(setup.api_port, "GET", path, headers={"Authorization": f"Bearer {KEY}"},
                              timeout=UPSTREAM_TIMEOUT * 3 + 10)
            except Exception as error:  # noqa: BLE001
                answer = error
            results[path] = (answer, time.monotonic() - started)
        for path in list(BAD_ANSWERS) + list(HANGING):
            one(path)
        for path, (answer, took) in results.items():
            if not isinstance(answer, Answer) or answer.status not in (502, 504):
                problems.append(f"{path}: {answer}")
            elif took > UPSTREAM_TIMEOUT * 2 + 2:
                problems.append(f"{path}: answered after {took:.1f} s")
        expect(setup.alive(), "the relay died: " + setup.relay.log_text()[-2000:])
        expect(not problems, "; ".join(problems))
        good = call(setup.api_port, "GET", "/users/@me", headers={"Authorization": f"Bearer {KEY}"})
        expect(good.status == 200, f"after them: {good}")
    checks.run("every malformed, hanging or oversized answer of the platform gets 502/504 in time; the relay "
               "goes on", malformed_answers)


def check_no_secret_logged(checks, setups):
    def nothing_logged():
        for setup in setups:
            log = setup.relay.log_text()
            expect(KEY not in log, "a client key in the log")
            expect("sim-secret" not in log, "the AppSecret in the log")
    checks.run("at trace level no client key or AppSecret is logged", nothing_logged)


def main():
    checks = Checks()
    tmp = workdir()
    sim = Sim(tmp, "--shards", "1")
    platform = BadPlatform(sim)
    direct = Setup(tmp, sim, name="direct")
    broken = Setup(tmp, sim, api_base=platform.base, name="broken")
    try:
        direct.ready()
        broken.ready()
        check_strangers_hold_nothing(checks, direct)
        check_smuggling(checks, direct)
        check_pipelining(checks, direct)
        check_versions(checks, direct)
        check_forwarding_rules(checks, direct)
        check_auth(checks, direct)
        check_deadlines(checks, direct)
        check_bad_platform(checks, broken, platform)
        check_no_secret_logged(checks, (direct, broken))
        expect(direct.alive() and broken.alive(), "a relay died")
    except Exception as error:  # noqa: BLE001
        checks.failed += 1
        print(f"FAIL setup: {error!r}", flush=True)
    finally:
        tear_down(checks, tmp, direct, broken, platform, sim)
    checks.finish()


if __name__ == "__main__":
    main()
