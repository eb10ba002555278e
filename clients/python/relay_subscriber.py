#!/usr/bin/python3
"""A qq-gateway-relay subscriber that never misses a message, run from the source tree without installing:
the package qq_gateway_relay_client next to this file, as the `relay-subscriber` command.

Usage: /usr/bin/python3 relay_subscriber.py PUB_ENDPOINT REPLAY_ENDPOINT [--journal FILE] [--server-key KEY
       --public-key KEY --secret-key KEY] [--rcvhwm N] [--delay SECONDS]

Needs pyzmq (Debian: python3-zmq). Installed (`pip install ./clients/python`), the same is `relay-subscriber`.
See README.md here and docs/subscribing.md.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from qq_gateway_relay_client.cli import main  # noqa: E402 - after the path it is found on

if __name__ == "__main__":
    sys.exit(main())
