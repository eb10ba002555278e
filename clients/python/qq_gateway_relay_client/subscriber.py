"""The subscriber: notices relay_seq gaps on the PUB socket and fills them from the relay's replay endpoint."""
from __future__ import annotations

import json
import os
import sys
import time
from typing import IO, Any, Dict, List, Optional, Tuple

import zmq

from .shapes import CurveKeys, Message, Meta, Sink


class Journal:
    """Append-only JSON lines; the last complete line is the position. Without a path, lines go to stdout."""

    def __init__(self, path: Optional[str]) -> None:
        self.path = path
        self.last: Optional[int] = None
        if path and os.path.exists(path):
            # Line by line: a journal grows without bound, and read whole it would cost its size in memory.
            complete = 0
            last_line: Optional[bytes] = None
            with open(path, "rb") as f:
                for line in f:
                    if not line.endswith(b"\n"):
                        break
                    complete += len(line)
                    if line.strip():
                        last_line = line
            if complete != os.path.getsize(path):  # a line cut short by a crash
                os.truncate(path, complete)
            if last_line is not None:
                self.last = json.loads(last_line)["relay_seq"]
        self.file: Optional[IO[str]] = open(path, "a", buffering=1, encoding="utf-8") if path else None

    def handle(self, topic: bytes, body: bytes, meta: Meta) -> None:
        line = json.dumps({"relay_seq": meta["relay_seq"], "topic": topic.decode(), "source": meta["source"],
                           "event_id": meta["event_id"], "body": body.decode("utf-8", "replace")},
                          ensure_ascii=False)
        if self.file:
            self.file.write(line + "\n")
        else:
            print(line, flush=True)
        self.last = meta["relay_seq"]

    def close(self) -> None:
        if self.file:
            self.file.close()
            self.file = None


class Subscriber:
    """A SUB socket on the relay's PUB endpoint and a DEALER on its replay endpoint, both with CURVE when given."""

    def __init__(self, context: zmq.Context[Any], pub_endpoint: str, replay_endpoint: str,
                 curve: Optional[CurveKeys] = None, rcvhwm: int = 1000) -> None:
        self.sub: zmq.Socket[bytes] = context.socket(zmq.SUB)
        self.sub.setsockopt(zmq.RCVHWM, rcvhwm)  # before connect, or it does not apply
        self.replay: zmq.Socket[bytes] = context.socket(zmq.DEALER)
        for socket in (self.sub, self.replay):
            socket.setsockopt(zmq.LINGER, 0)
            if curve:
                socket.curve_serverkey = curve["server"].encode()
                socket.curve_publickey = curve["public"].encode()
                socket.curve_secretkey = curve["secret"].encode()
        self.sub.setsockopt(zmq.SUBSCRIBE, b"")  # gaps are only visible when subscribed to everything
        self.sub.connect(pub_endpoint)
        self.replay.connect(replay_endpoint)

    def ask(self, since: Optional[int], max_messages: int = 1000,
            timeout_ms: int = 5000) -> Tuple[Dict[str, Any], List[Message]]:
        """One catch-up request; returns (header, [(topic, body, meta), ...]). A busy relay is asked again, with
        growing pauses (3 s in all) before giving up."""
        pause = 0.05
        while True:
            self.replay.send_multipart([b"", json.dumps({"since": since, "max": max_messages}).encode()])
            if not self.replay.poll(timeout_ms):
                raise TimeoutError("no answer from the replay endpoint")
            frames = self.replay.recv_multipart()[1:]  # drop the empty delimiter
            header: Dict[str, Any] = json.loads(frames[0])
            if "error" not in header:
                break
            if not header["error"].startswith("busy") or pause > 2:
                raise ValueError(header["error"])
            print(f"replay endpoint {header['error']}; asking again in {pause:.2f} s", file=sys.stderr, flush=True)
            time.sleep(pause)
            pause *= 2
        triples = [(frames[i], frames[i + 1], json.loads(frames[i + 2])) for i in range(1, len(frames), 3)]
        return header, triples

    def catch_up(self, journal: Sink, until: Optional[int] = None) -> None:
        """Fills what was missed after journal.last, up to `until` (exclusive) or everything retained."""
        assert journal.last is not None
        while until is None or journal.last < until - 1:
            header, triples = self.ask(journal.last)
            first = header["first_available"]
            if first is not None and first > journal.last + 1:
                print(f"lost for good: relay_seq {journal.last + 1}..{first - 1} (no longer retained)",
                      file=sys.stderr, flush=True)
            for topic, body, meta in triples:
                if until is not None and meta["relay_seq"] >= until:
                    return
                if meta["relay_seq"] > journal.last:
                    journal.handle(topic, body, meta)
            if header["count"] == 0:
                return

    def run(self, journal: Sink, delay: float = 0.0, count: Optional[int] = None) -> None:
        """Hands every message to journal.handle(), in relay_seq order, gaps filled; catches up first when
        journal.last is set. Returns after `count` live messages (those caught up on the way included), or
        never."""
        if journal.last is not None:
            self.catch_up(journal)
        live = 0
        while count is None or live < count:
            topic, body, meta_bytes = self.sub.recv_multipart()
            meta: Meta = json.loads(meta_bytes)
            seq = meta["relay_seq"]
            if journal.last is not None:
                if seq <= journal.last:
                    continue  # already handled, from a catch-up
                if seq > journal.last + 1:
                    print(f"gap: relay_seq {journal.last + 1}..{seq - 1}, catching up", file=sys.stderr, flush=True)
                    self.catch_up(journal, until=seq)
            journal.handle(topic, body, meta)
            live += 1
            if delay:
                time.sleep(delay)  # a deliberately slow consumer, for tests

    def close(self) -> None:
        self.sub.close(0)
        self.replay.close(0)
