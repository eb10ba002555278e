#!/usr/bin/python3
"""Prints every message qq-gateway-relay publishes, one line each, and reports relay_seq gaps.

Usage: /usr/bin/python3 subscriber.py [ENDPOINT] [TOPIC_FILTER]

  ENDPOINT      the relay's publish endpoint (default tcp://127.0.0.1:5555)
  TOPIC_FILTER  a topic prefix, e.g. GROUP_ or relay.shard (default: everything). Include publish.topic_prefix.

Needs pyzmq: Debian's python3-zmq for /usr/bin/python3. Stop it with Ctrl-C.
See docs/subscribing.md for the message format.
"""
import json
import os
import sys

import zmq


def describe(meta, body):
    """What the line shows about frame 2: the event's t, or the state of a relay.shard message."""
    try:
        doc = json.loads(body)
    except ValueError:
        return "body=<not JSON>"
    if meta["source"] == "relay":
        text = f"state={doc['state']}"
        if doc["state"] in ("disconnected", "stopped"):
            text += f" close_code={doc['close_code']} reason={doc['reason']!r} will_resume={doc['will_resume']}"
        return text
    return f"t={doc.get('t')}"


def main():
    endpoint = sys.argv[1] if len(sys.argv) > 1 else "tcp://127.0.0.1:5555"
    topic_filter = sys.argv[2] if len(sys.argv) > 2 else ""

    context = zmq.Context()
    socket = context.socket(zmq.SUB)
    socket.setsockopt(zmq.LINGER, 0)
    socket.setsockopt(zmq.SUBSCRIBE, topic_filter.encode())
    socket.connect(endpoint)
    print(f"subscribed to {topic_filter!r} on {endpoint}", file=sys.stderr, flush=True)

    # relay_seq counts every message the relay publishes, on all topics. With a topic filter the skipped
    # topics look like gaps, so gaps are only checked when subscribed to everything.
    check_gaps = topic_filter == ""
    last_relay_seq = None
    try:
        while True:
            frames = socket.recv_multipart()
            if len(frames) != 3:
                print(f"ignoring a message of {len(frames)} frames", file=sys.stderr, flush=True)
                continue
            topic_bytes, body, meta_bytes = frames
            topic = topic_bytes.decode("utf-8", "replace")
            meta = json.loads(meta_bytes)
            relay_seq = meta["relay_seq"]
            if check_gaps and last_relay_seq is not None:
                if relay_seq <= last_relay_seq:
                    print(f"relay restarted: relay_seq went from {last_relay_seq} to {relay_seq}")
                elif relay_seq > last_relay_seq + 1:
                    lost = relay_seq - last_relay_seq - 1
                    print(f"GAP: {lost} message(s) lost, relay_seq {last_relay_seq + 1}..{relay_seq - 1}")
            last_relay_seq = relay_seq
            shard = meta["shard"]
            where = f" shard={shard[0]}/{shard[1]}" if shard else ""
            seq = f" s={meta['seq']}" if meta["seq"] is not None else ""
            print(f"relay_seq={relay_seq} topic={topic} {describe(meta, body)}{where}{seq}", flush=True)
    except KeyboardInterrupt:
        pass
    except BrokenPipeError:
        # stdout went away (e.g. piped into head): stop quietly.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    finally:
        socket.close()
        context.term()
    return 0


if __name__ == "__main__":
    sys.exit(main())
