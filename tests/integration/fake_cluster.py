"""Two fake relays of one cluster, for the subscriber-client tests: each an XPUB (so the test knows when a client
has subscribed) and a ROUTER answering catch-up requests from what it published, with contract-2 metadata that
names its node. Both publish some events with the same event_id, as two relays do around a takeover, and each
leaves one number out of its live stream, so that a client must fill that gap from that relay's replay endpoint."""
import json
import threading

import zmq

from harness import expect, wait_for
from client_journal import journal_lines


class FakeClusterRelay:
    def __init__(self, tmp, node):
        self.node = node
        self.pub_endpoint, self.replay_endpoint = f"ipc://{tmp}/{node}-pub.sock", f"ipc://{tmp}/{node}-replay.sock"
        self.context = zmq.Context()
        self.pub = self.context.socket(zmq.XPUB)
        self.pub.bind(self.pub_endpoint)
        self.router = self.context.socket(zmq.ROUTER)
        self.router.bind(self.replay_endpoint)
        self.retained = []  # (topic, body, meta, relay_seq); appended before publishing, read by _serve
        self.requests = []  # the `since` of every catch-up request
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while self.running:
            if not self.router.poll(50):
                continue
            identity, *envelope, request = self.router.recv_multipart()
            since = json.loads(request)["since"]
            self.requests.append(since)
            batch = [m for m in list(self.retained) if m[3] > since]
            header = {"count": len(batch), "next": batch[-1][3] if batch else since,
                      "first_available": self.retained[0][3], "last_available": self.retained[-1][3]}
            frames = [identity, *envelope, json.dumps(header).encode()]
            for topic, body, meta, _ in batch:
                frames += [topic, body, meta]
            self.router.send_multipart(frames)

    def wait_subscribed(self, timeout=20):
        """Until a client's subscription arrives on the XPUB: what is published after that reaches it."""
        wait_for(lambda: self.pub.poll(100) and self.pub.recv().startswith(b"\x01"), timeout,
                 f"a subscriber on {self.node}")

    def publish(self, relay_seq, event_id, live=True):
        """Message `relay_seq` of this node: a relay.shard message when event_id is None, else an event with that
        id. Retained for catch-up either way; sent on the XPUB only when `live`."""
        if event_id is None:
            topic, body = b"relay.shard", b'{"shard":[0,2],"state":"ready","session_id":"s","close_code":0,' \
                                          b'"reason":"","will_resume":false}'
        else:
            topic = b"C2C_MESSAGE_CREATE"
            body = json.dumps({"op": 0, "s": relay_seq, "t": "C2C_MESSAGE_CREATE", "id": event_id,
                               "d": {"content": event_id}}).encode()
        meta = json.dumps({"v": 2, "app_id": "1", "source": "relay" if event_id is None else "gateway",
                           "shard": [0, 2], "session_id": "s", "seq": None if event_id is None else relay_seq,
                           "event_id": event_id, "relay_seq": relay_seq, "received_at_us": relay_seq,
                           "node": self.node}, separators=(",", ":")).encode()
        self.retained.append((topic, body, meta, relay_seq))
        if live:
            self.pub.send_multipart([topic, body, meta])

    def close(self):
        self.running = False
        self.thread.join()
        for socket in (self.pub, self.router):
            socket.close(0)
        self.context.term()


# (relay_seq, event_id, live) of each node. S:* are published by both (a takeover's repeats); a's 4 and b's 5
# are left out of the live stream. b's 5 is a repeat too, so the catch-up's messages are checked for repeats.
STREAM_A = [(1, None, True), (2, "A:1", True), (3, "S:1", True), (4, "A:2", False), (5, "S:2", True),
            (6, "S:3", True), (7, "A:3", True)]
STREAM_B = [(1, None, True), (2, "S:1", True), (3, "S:2", True), (4, "B:1", True), (5, "S:3", False),
            (6, "B:2", True)]
EXPECTED = [None, "A:1", "S:1", "A:2", "S:2", "S:3", "A:3", None, "B:1", "B:2"]
# Published while the client is down, so that its restart catches up from each relay's own position. b's 7 repeats
# an id journaled before the restart: the restarted client remembers the ids of its journal.
WHILE_DOWN_A = [(8, "S:4"), (9, "A:4")]
WHILE_DOWN_B = [(7, "A:3"), (8, "S:4"), (9, "B:3")]
EXPECTED_AFTER_RESTART = EXPECTED + ["S:4", "A:4", "B:3"]


def two_relays_exactly_once(tmp, start_client, name="cluster"):
    """`start_client(journal, [(pub, replay), ...])` starts a client on both relays (stderr to JOURNAL.err) and
    returns its process. Every event reaches its journal exactly once, the relay.shard messages (no event_id)
    of both, and each relay's gap was filled from that relay's replay endpoint. Then the client is killed, both
    relays publish more, and the restarted client catches up from each relay's position in the journal, still
    without a repeat."""
    journal = f"{tmp}/{name}.jsonl"
    relays = [FakeClusterRelay(tmp, f"{name}-a"), FakeClusterRelay(tmp, f"{name}-b")]
    proc = None
    try:
        proc = start_client(journal, [(r.pub_endpoint, r.replay_endpoint) for r in relays])
        for relay in relays:
            relay.wait_subscribed()
        # One relay after the other, so that the journal's order is known.
        for relay, stream, last in ((relays[0], STREAM_A, "A:3"), (relays[1], STREAM_B, "B:2")):
            for relay_seq, event_id, live in stream:
                relay.publish(relay_seq, event_id, live)
            wait_for(lambda: any(l["event_id"] == last for l in journal_lines(journal)), 20, f"{last} journaled")
        lines = journal_lines(journal)
        ids = [l["event_id"] for l in lines]
        expect(ids == EXPECTED, f"not every event exactly once: {ids}")
        expect([l["relay"] for l in lines] == [relays[0].pub_endpoint] * 7 + [relays[1].pub_endpoint] * 3,
               f"journal lines name the wrong relays: {[l.get('relay') for l in lines]}")
        expect(relays[0].requests == [3] and relays[1].requests == [4],
               f"each gap filled from its own relay: a asked since {relays[0].requests}, b {relays[1].requests}")

        proc.kill()
        proc.wait()
        for relay, stream in ((relays[0], WHILE_DOWN_A), (relays[1], WHILE_DOWN_B)):
            for relay_seq, event_id in stream:
                relay.publish(relay_seq, event_id, live=False)
        proc = start_client(journal, [(r.pub_endpoint, r.replay_endpoint) for r in relays])
        wait_for(lambda: any(l["event_id"] == "B:3" for l in journal_lines(journal)), 20, "B:3 after the restart")
        ids = [l["event_id"] for l in journal_lines(journal)]
        expect(ids == EXPECTED_AFTER_RESTART, f"after the restart, not every event exactly once: {ids}")
        # (then each asks again from 9, until an answer is empty)
        expect(relays[0].requests[1:2] == [7] and relays[1].requests[1:2] == [6],
               f"the restart caught up from each relay's own position: a asked since {relays[0].requests}, "
               f"b {relays[1].requests}")
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        for relay in relays:
            relay.close()
    return journal
