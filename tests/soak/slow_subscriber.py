#!/usr/bin/python3
"""The soak run's slow subscriber: the repository's Python client (clients/python, the cluster form, so repeats are
dropped by event_id) whose handler sleeps DELAY seconds per message while it is told to be slow: SIGUSR1 turns the
sleep on, SIGUSR2 off. It falls behind, the relay's queue for it fills, and it must catch up through the replay
endpoint like any other subscriber.

Usage: slow_subscriber.py PUB_ENDPOINT REPLAY_ENDPOINT JOURNAL [DELAY]
"""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "clients", "python"))

import zmq  # noqa: E402

from qq_gateway_relay_client import ClusterJournal, ClusterSubscriber  # noqa: E402


class SlowJournal(ClusterJournal):
    def __init__(self, path, delay):
        super().__init__(path)
        self.delay = delay
        self.slow = False

    def handle_from(self, relay, topic, body, meta):
        super().handle_from(relay, topic, body, meta)
        if self.slow:
            time.sleep(self.delay)


def main():
    pub, replay, journal_path = sys.argv[1:4]
    delay = float(sys.argv[4]) if len(sys.argv) > 4 else 0.002
    journal = SlowJournal(journal_path, delay)

    def slow(on):
        journal.slow = on
        print(f"slow: {'on' if on else 'off'}", file=sys.stderr, flush=True)

    signal.signal(signal.SIGUSR1, lambda *_: slow(True))
    signal.signal(signal.SIGUSR2, lambda *_: slow(False))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    cluster = ClusterSubscriber(zmq.Context(), [(pub, replay)])
    try:
        cluster.run(journal)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
