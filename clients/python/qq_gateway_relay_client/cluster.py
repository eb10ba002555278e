"""Several relays sharing one bot's shards (a cluster): one Subscriber (a SUB and a DEALER) per relay, relay_seq
tracked per relay, and the repeats a takeover causes (an event published by two relays) dropped by event_id."""
from __future__ import annotations

import collections
import json
import os
import sys
import time
from typing import Any, Deque, Dict, Iterable, List, Optional, Set, Tuple

import zmq

from .shapes import CurveKeys, Meta
from .subscriber import Journal, Subscriber

# How many event ids are remembered to drop repeats: a takeover repeats what the dead relay published in its last
# moments (at most the platform's replay of one session), far fewer than this.
RECENT_IDS = 65536


class RecentIds:
    """The last `capacity` event ids seen, oldest forgotten first."""

    def __init__(self, capacity: int = RECENT_IDS) -> None:
        self.capacity = capacity
        self.order: Deque[str] = collections.deque()
        self.ids: Set[str] = set()

    def add(self, event_id: str) -> bool:
        """False when the id is already remembered (a repeat)."""
        if event_id in self.ids:
            return False
        self.ids.add(event_id)
        self.order.append(event_id)
        if len(self.order) > self.capacity:
            self.ids.discard(self.order.popleft())
        return True


class ClusterJournal(Journal):
    """A Journal whose lines also say which relay (its PUB endpoint) published them: `"relay": ENDPOINT` at the end.
    On start the last line of each relay is that relay's position, and the event ids of the lines are remembered,
    so a restarted client neither misses nor repeats across relays."""

    def __init__(self, path: Optional[str]) -> None:
        super().__init__(path)
        self.positions: Dict[str, int] = {}
        self.recent = RecentIds()
        if path and os.path.exists(path):
            with open(path, "rb") as f:
                for line in f:  # line by line: the journal grows without bound
                    if not line.strip():
                        continue
                    record = json.loads(line)
                    if "relay" in record:
                        self.positions[record["relay"]] = record["relay_seq"]
                    if record.get("event_id"):
                        self.recent.add(record["event_id"])

    def handle_from(self, relay: str, topic: bytes, body: bytes, meta: Meta) -> None:
        record = {"relay_seq": meta["relay_seq"], "topic": topic.decode(), "source": meta["source"],
                  "event_id": meta["event_id"], "body": body.decode("utf-8", "replace"), "relay": relay}
        line = json.dumps(record, ensure_ascii=False)
        if self.file:
            self.file.write(line + "\n")
        else:
            print(line, flush=True)
        self.positions[relay] = meta["relay_seq"]


class _RelaySink:
    """One relay's view of the journal, for Subscriber.catch_up: `last` is that relay's position; handle() drops
    repeats by event_id and writes the rest with the relay's endpoint."""

    def __init__(self, cluster: "ClusterSubscriber", relay: str, journal: ClusterJournal) -> None:
        self.cluster = cluster
        self.relay = relay
        self.journal = journal

    @property
    def last(self) -> Optional[int]:
        return self.journal.positions.get(self.relay)

    @last.setter
    def last(self, value: Optional[int]) -> None:
        if value is None:
            self.journal.positions.pop(self.relay, None)
        else:
            self.journal.positions[self.relay] = value

    def handle(self, topic: bytes, body: bytes, meta: Meta) -> None:
        event_id = meta.get("event_id")
        if event_id and not self.journal.recent.add(event_id):
            self.cluster.repeats += 1
            self.last = meta["relay_seq"]  # the position moves on: this relay's message was seen
            return
        self.journal.handle_from(self.relay, topic, body, meta)
        self.cluster.handled += 1


class ClusterSubscriber:
    """One Subscriber per relay, each a (PUB endpoint, replay endpoint) pair. relay_seq is checked per relay, and a
    gap is filled from that relay's own replay endpoint; an event_id already handled (from any relay) is dropped.
    Messages without an event_id (relay.shard) are never dropped."""

    def __init__(self, context: zmq.Context[Any], relays: Iterable[Tuple[str, str]],
                 curve: Optional[CurveKeys] = None, rcvhwm: int = 1000) -> None:
        self.relays: List[Tuple[str, str]] = list(relays)
        self.subscribers = [Subscriber(context, pub, replay, curve, rcvhwm) for pub, replay in self.relays]
        self.nodes: Dict[str, str] = {}  # PUB endpoint -> the node named in its last message's metadata
        self.handled = 0
        self.repeats = 0

    def _check_node(self, sink: _RelaySink, meta: Meta) -> None:
        """A different node on the same endpoint (another relay took the address) numbers its own stream: start
        again from its next message. Contract-1 metadata has no node: ""."""
        node = meta.get("node", "")
        known = self.nodes.get(sink.relay)
        if known is not None and known != node:
            print(f"{sink.relay}: node changed from {known!r} to {node!r}; following its relay_seq from "
                  f"{meta['relay_seq']}", file=sys.stderr, flush=True)
            sink.last = None
        self.nodes[sink.relay] = node

    def run(self, journal: ClusterJournal, delay: float = 0.0, count: Optional[int] = None) -> None:
        """Hands every message of every relay to the journal once, each relay's gaps filled from that relay;
        catches up first for every relay with a position. Returns after `count` live messages handled or
        dropped as repeats, or never."""
        sinks = [_RelaySink(self, pub, journal) for pub, _ in self.relays]
        for subscriber, sink in zip(self.subscribers, sinks):
            if sink.last is not None:
                subscriber.catch_up(sink)
        poller = zmq.Poller()
        by_socket = {}
        for subscriber, sink in zip(self.subscribers, sinks):
            poller.register(subscriber.sub, zmq.POLLIN)
            by_socket[subscriber.sub] = (subscriber, sink)
        live = 0
        while count is None or live < count:
            for socket, _ in poller.poll():
                subscriber, sink = by_socket[socket]
                topic, body, meta_bytes = socket.recv_multipart()
                meta: Meta = json.loads(meta_bytes)
                self._check_node(sink, meta)
                seq = meta["relay_seq"]
                last = sink.last
                if last is not None:
                    if seq <= last:
                        continue  # already handled, from a catch-up
                    if seq > last + 1:
                        print(f"gap: relay_seq {last + 1}..{seq - 1} of {sink.relay}, catching up", file=sys.stderr,
                              flush=True)
                        subscriber.catch_up(sink, until=seq)
                sink.handle(topic, body, meta)
                live += 1
                if delay:
                    time.sleep(delay)

    def close(self) -> None:
        for subscriber in self.subscribers:
            subscriber.close()
