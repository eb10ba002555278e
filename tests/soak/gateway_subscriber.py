#!/usr/bin/python3
"""The soak run's SDK-style bot: a client of the gateway the relay serves on its [api] listener
(docs/downstream.md), on Python's `websockets`, doing what the platform's SDKs do: Identify, heartbeats, Resume
after op 7, a close or a dropped connection, a new Identify after op 9. It drops repeats by event id (the last
200000) and appends every event to JOURNAL as the clients in clients/ do (one JSON line: topic, event_id, body),
so the soak's check reads it like theirs.

Usage: gateway_subscriber.py WS_URL TOKEN JOURNAL
"""
import asyncio
import collections
import json
import signal
import sys

import websockets

GROUP_AND_C2C_EVENT = 1 << 25
RECENT = 200000


class State:
    def __init__(self, journal_path):
        self.journal = open(journal_path, "a", buffering=1, encoding="utf-8")
        self.session_id = None
        self.seq = None
        self.recent = collections.deque()
        self.seen = set()
        self.repeats = 0

    def handle(self, text, message):
        event_id = message.get("id")
        if event_id:
            if event_id in self.seen:
                self.repeats += 1
                return
            self.seen.add(event_id)
            self.recent.append(event_id)
            if len(self.recent) > RECENT:
                self.seen.discard(self.recent.popleft())
        self.journal.write(json.dumps({"topic": message.get("t"), "event_id": event_id, "body": text},
                                      ensure_ascii=False) + "\n")


async def heartbeat(ws, state, interval):
    while True:
        await asyncio.sleep(interval)
        await ws.send(json.dumps({"op": 1, "d": state.seq}))


async def session(url, token, state):
    async with websockets.connect(url, open_timeout=10, ping_interval=None, close_timeout=2, max_size=2 ** 24,
                                  compression=None) as ws:
        hello = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if state.session_id:
            await ws.send(json.dumps({"op": 6, "d": {"token": token, "session_id": state.session_id,
                                                     "seq": state.seq}}))
        else:
            await ws.send(json.dumps({"op": 2, "d": {"token": token, "intents": GROUP_AND_C2C_EVENT,
                                                     "shard": [0, 1], "properties": {"$os": "linux"}}}))
        beats = asyncio.ensure_future(heartbeat(ws, state, hello["d"]["heartbeat_interval"] / 1000))
        try:
            async for text in ws:
                message = json.loads(text)
                op = message.get("op")
                if op == 0:
                    state.seq = message["s"]
                    if message.get("t") == "READY":
                        state.session_id = message["d"]["session_id"]
                        print(f"READY {state.session_id}", file=sys.stderr, flush=True)
                    elif message.get("t") == "RESUMED":
                        print(f"RESUMED at s={state.seq}", file=sys.stderr, flush=True)
                    else:
                        state.handle(text, message)
                elif op == 7:
                    print("op 7: resuming", file=sys.stderr, flush=True)
                    return
                elif op == 9:
                    print(f"op 9 d={message.get('d')}", file=sys.stderr, flush=True)
                    if not message.get("d"):
                        state.session_id = None
                        state.seq = None
                    return
        finally:
            beats.cancel()


async def main():
    url, token, journal_path = sys.argv[1:4]
    state = State(journal_path)
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    loop.add_signal_handler(signal.SIGTERM, lambda: stop.done() or stop.set_result(None))
    while not stop.done():
        task = asyncio.ensure_future(session(url, token, state))
        await asyncio.wait([task, stop], return_when=asyncio.FIRST_COMPLETED)
        if stop.done():
            task.cancel()
            break
        try:
            task.result()
        except (OSError, asyncio.TimeoutError, websockets.WebSocketException) as error:
            print(f"connection ended: {error!r}", file=sys.stderr, flush=True)
        await asyncio.sleep(0.5)
    print(f"repeats dropped: {state.repeats}", file=sys.stderr, flush=True)
    state.journal.close()


if __name__ == "__main__":
    asyncio.run(main())
