"""relay-subscriber: the client as a command. Every message is appended to the journal (one JSON line each) or
printed. The journal is also the position: on start, the relay_seq of its last complete line is where catch-up
begins, so a crash costs nothing and repeats nothing. With --relay (repeatable) it follows every relay of a cluster:
relay_seq per relay, gaps filled from that relay's replay endpoint, repeats across relays dropped by event_id. With CURVE keys (Z85, from `qq-gateway-relay keygen`) both
sockets are encrypted and authenticated."""
from __future__ import annotations

import argparse
import sys
from typing import List, Optional

import zmq

from .cluster import ClusterJournal, ClusterSubscriber
from .shapes import CurveKeys
from .subscriber import Journal, Subscriber


def joined_key_options(argv: List[str]) -> List[str]:
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


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        description="A qq-gateway-relay subscriber that fills relay_seq gaps from the replay endpoint.",
        epilog="See docs/subscribing.md of qq-gateway-relay.")
    parser.add_argument("pub_endpoint", nargs="?")
    parser.add_argument("replay_endpoint", nargs="?")
    parser.add_argument("--relay", action="append", default=[], metavar="PUB,REPLAY",
                        help="one relay of a cluster: its PUB endpoint and its replay endpoint; repeat it for "
                             "each relay (relay_seq is followed per relay, repeats are dropped by event_id)")
    parser.add_argument("--journal", help="append messages here; its last line is the position")
    parser.add_argument("--server-key", help="the relay's CURVE public key (Z85)")
    parser.add_argument("--public-key", help="this client's CURVE public key (Z85)")
    parser.add_argument("--secret-key", help="this client's CURVE secret key (Z85)")
    parser.add_argument("--rcvhwm", type=int, default=1000)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds to sleep after each message")
    args = parser.parse_args(joined_key_options(sys.argv[1:] if argv is None else argv))
    relays = []
    if args.pub_endpoint is not None:
        if args.replay_endpoint is None:
            parser.error("PUB_ENDPOINT needs REPLAY_ENDPOINT")
        relays.append((args.pub_endpoint, args.replay_endpoint))
    for relay in args.relay:
        pub, comma, replay = relay.partition(",")
        if not comma or not pub or not replay:
            parser.error(f"--relay: expected PUB,REPLAY: {relay}")
        relays.append((pub, replay))
    if not relays:
        parser.error("the following arguments are required: pub_endpoint, replay_endpoint (or --relay)")
    curve: Optional[CurveKeys] = None
    if args.server_key:
        curve = {"server": args.server_key, "public": args.public_key, "secret": args.secret_key}
    context = zmq.Context()
    try:
        if args.relay:  # the cluster form, even for one --relay: journal lines say which relay, repeats dropped
            cluster = ClusterSubscriber(context, relays, curve, args.rcvhwm)
            cluster.run(ClusterJournal(args.journal), args.delay)
        else:
            subscriber = Subscriber(context, args.pub_endpoint, args.replay_endpoint, curve, args.rcvhwm)
            subscriber.run(Journal(args.journal), args.delay)
    except KeyboardInterrupt:
        pass
    return 0
