"""The shapes the client hands around: the metadata frame, CURVE keys, and what receives the messages."""
from __future__ import annotations

from typing import Any, Dict, Optional, Protocol, Tuple, TypedDict

# The third frame of every message, parsed: relay_seq, source, event_id, shard, received_at_us, ...
# (docs/subscribing.md lists the fields).
Meta = Dict[str, Any]

# topic, body (the Dispatch's JSON, as the gateway sent it), metadata.
Message = Tuple[bytes, bytes, Meta]


class CurveKeys(TypedDict):
    """Z85 keys, as `qq-gateway-relay keygen` writes them."""

    server: str  # the relay's public key
    public: str  # this client's public key
    secret: str  # this client's secret key


class Sink(Protocol):
    """What Subscriber.run() hands messages to: Journal, or any object with these two members. `last` is the
    relay_seq of the last message handled (None: start with the next live one); handle() must set it."""

    last: Optional[int]

    def handle(self, topic: bytes, body: bytes, meta: Meta) -> None: ...
