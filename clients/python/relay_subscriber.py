#!/usr/bin/python3
"""A qq-gateway-relay subscriber that never misses a message: it notices relay_seq gaps and fills them from the
relay's replay endpoint, and it resumes where it stopped after a restart.

Usage: /usr/bin/python3 relay_subscriber.py PUB_ENDPOINT REPLAY_ENDPOINT [--journal FILE] [--server-key KEY
       --public-key KEY --secret-key KEY] [--delay SECONDS]

Every message is handed to handle(), here: appended to the journal (one JSON line each) or printed. The journal
is also the position: on start, the relay_seq of its last complete line is where catch-up begins, so a crash
costs nothing and repeats nothing. With CURVE keys (Z85, from `qq-gateway-relay keygen`) both sockets are
encrypted and authenticated. Needs pyzmq (Debian: python3-zmq). See docs/subscribing.md.
"""
import argparse
import json
import os
import sys
import time

import zmq


class Journal:
    """Append-only JSON lines; the last complete line is the position."""

    def __init__(self, path):
        self.path = path
        self.last = None
        if path and os.path.exists(path):
            with open(path, "rb") as f:
                data = f.read()
            complete = data[: data.rfind(b"\n") + 1]
            if len(complete) != len(data):  # a line cut short by a crash
                with open(path, "wb") as f:
                    f.write(complete)
            lines = complete.splitlines()
            if lines:
                self.last = json.loads(lines[-1])["relay_seq"]
        self.file = open(path, "a", buffering=1) if path else None

    def handle(self, topic, body, meta):
        line = json.dumps({"relay_seq": meta["relay_seq"], "topic": topic.decode(), "source": meta["source"],
                           "event_id": meta["event_id"], "body": body.decode("utf-8", "replace")},
                          ensure_ascii=False)
        if self.file:
            self.file.write(line + "\n")
        else:
            print(line, flush=True)
        self.last = meta["relay_seq"]


class Subscriber:
    def __init__(self, context, pub_endpoint, replay_endpoint, curve=None, rcvhwm=1000):
        self.sub = context.socket(zmq.SUB)
        self.sub.setsockopt(zmq.RCVHWM, rcvhwm)  # before connect, or it does not apply
        self.replay = context.socket(zmq.DEALER)
        for socket in (self.sub, self.replay):
            socket.setsockopt(zmq.LINGER, 0)
            if curve:
                socket.curve_serverkey = curve["server"].encode()
                socket.curve_publickey = curve["public"].encode()
                socket.curve_secretkey = curve["secret"].encode()
        self.sub.setsockopt(zmq.SUBSCRIBE, b"")  # gaps are only visible when subscribed to everything
        self.sub.connect(pub_endpoint)
        self.replay.connect(replay_endpoint)

    def ask(self, since, max_messages=1000, timeout_ms=5000):
        """One catch-up request; returns (header, [(topic, body, meta), ...]). A busy relay is asked again, with
        growing pauses (3 s in all) before giving up."""
        pause = 0.05
        while True:
            self.replay.send_multipart([b"", json.dumps({"since": since, "max": max_messages}).encode()])
            if not self.replay.poll(timeout_ms):
                raise TimeoutError("no answer from the replay endpoint")
            frames = self.replay.recv_multipart()[1:]  # drop the empty delimiter
            header = json.loads(frames[0])
            if "error" not in header:
                break
            if not header["error"].startswith("busy") or pause > 2:
                raise ValueError(header["error"])
            print(f"replay endpoint {header['error']}; asking again in {pause:.2f} s", file=sys.stderr, flush=True)
            time.sleep(pause)
            pause *= 2
        triples = [(frames[i], frames[i + 1], json.loads(frames[i + 2])) for i in range(1, len(frames), 3)]
        return header, triples

    def catch_up(self, journal, until=None):
        """Fills what was missed after journal.last, up to `until` (exclusive) or everything retained."""
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

    def run(self, journal, delay=0.0):
        if journal.last is not None:
            self.catch_up(journal)
        while True:
            topic, body, meta_bytes = self.sub.recv_multipart()
            meta = json.loads(meta_bytes)
            seq = meta["relay_seq"]
            if journal.last is not None:
                if seq <= journal.last:
                    continue  # already handled, from a catch-up
                if seq > journal.last + 1:
                    print(f"gap: relay_seq {journal.last + 1}..{seq - 1}, catching up", file=sys.stderr, flush=True)
                    self.catch_up(journal, until=seq)
            journal.handle(topic, body, meta)
            if delay:
                time.sleep(delay)  # a deliberately slow consumer, for tests


def joined_key_options(argv):
    """Z85 keys may begin with '-', which argparse would take for an option: pass them as --name=KEY."""
    out = []
    i = 0
    while i < len(argv):
        if argv[i] in ("--server-key", "--public-key", "--secret-key") and i + 1 < len(argv):
            out.append(f"{argv[i]}={argv[i + 1]}")
            i += 2
        else:
            out.append(argv[i])
            i += 1
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pub_endpoint")
    parser.add_argument("replay_endpoint")
    parser.add_argument("--journal", help="append messages here; its last line is the position")
    parser.add_argument("--server-key", help="the relay's CURVE public key (Z85)")
    parser.add_argument("--public-key", help="this client's CURVE public key (Z85)")
    parser.add_argument("--secret-key", help="this client's CURVE secret key (Z85)")
    parser.add_argument("--rcvhwm", type=int, default=1000)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds to sleep after each message")
    args = parser.parse_args(joined_key_options(sys.argv[1:]))
    curve = None
    if args.server_key:
        curve = {"server": args.server_key, "public": args.public_key, "secret": args.secret_key}
    context = zmq.Context()
    subscriber = Subscriber(context, args.pub_endpoint, args.replay_endpoint, curve, args.rcvhwm)
    journal = Journal(args.journal)
    try:
        subscriber.run(journal, args.delay)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
