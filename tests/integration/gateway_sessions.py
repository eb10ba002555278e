"""Many downstream gateway sessions held by one asyncio loop, for tests/integration/test_downstream_scale.py and
tests/bench/downstream_sessions.py: each session identifies with its own intents and shard, keeps its
connection alive with heartbeats, and records every text it receives with the time it came in."""
import asyncio
import json
import time

import websockets

C2C = 1 << 25  # GROUP_AND_C2C_EVENT: C2C_MESSAGE_CREATE, the simulator's generated events
GUILDS = 1
PUBLIC_GUILD_MESSAGES = 1 << 30
SHARD_COUNTS = (1, 2, 4, 8, 16)


def fnv1a64(text):
    value = 14695981039346656037
    for byte in text.encode():
        value = ((value ^ byte) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return value


def every_shard(intents, counts=SHARD_COUNTS):
    """Scopes (intents, [i, n]) for every i of every n in `counts`: each n together covers every event once."""
    return [(intents, (i, n)) for n in counts for i in range(n)]


def probe_guild_ids(max_shards=16):
    """Guild ids whose routing shard is j % n for every n dividing max_shards: (j << 22 >> 22) % n = j % n."""
    return [str(j << 22) for j in range(max_shards)]


class Session:
    def __init__(self, url, token, intents, shard):
        self.url = url
        self.token = token
        self.intents = intents
        self.shard = shard
        self.ws = None
        self.ready = None
        self.texts = []  # every text after READY, as received
        self.times = []  # time.monotonic_ns() at which each text was read
        self.probes = 0  # texts with "t":"PROBE"
        self.heartbeat_interval = None
        self.closed = None  # the close code, if the connection ended

    async def open(self):
        self.ws = await websockets.connect(self.url, open_timeout=20, ping_interval=None, close_timeout=2,
                                           max_size=2 ** 24, max_queue=None, compression=None)
        hello = json.loads(await asyncio.wait_for(self.ws.recv(), 20))
        assert hello["op"] == 10, hello
        self.heartbeat_interval = hello["d"]["heartbeat_interval"] / 1000
        await self.ws.send(json.dumps({"op": 2, "d": {"token": self.token, "intents": self.intents,
                                                      "shard": list(self.shard), "properties": {}}}))
        self.ready = json.loads(await asyncio.wait_for(self.ws.recv(), 20))
        assert self.ready.get("t") == "READY", self.ready

    async def read(self):
        """Reads until the connection ends; heartbeats at 0.8 of the interval (op 11 answers are recorded too)."""
        heartbeat = asyncio.ensure_future(self._heartbeat())
        try:
            async for text in self.ws:
                self.times.append(time.monotonic_ns())
                self.texts.append(text)
                if '"t":"PROBE"' in text:
                    self.probes += 1
        except websockets.ConnectionClosed:
            pass
        finally:
            self.closed = self.ws.close_code
            heartbeat.cancel()

    async def _heartbeat(self):
        while True:
            await asyncio.sleep(self.heartbeat_interval * 0.8)
            await self.ws.send(json.dumps({"op": 1, "d": None}))

    def dispatches(self):
        return [json.loads(text) for text in self.texts if text.startswith('{"op":0')]


async def open_all(sessions, parallel=32):
    """Opens and identifies every session, `parallel` at a time, and starts each one's reader."""
    limit = asyncio.Semaphore(parallel)

    async def one(session):
        async with limit:
            await session.open()
    await asyncio.gather(*(one(session) for session in sessions))
    return [asyncio.ensure_future(session.read()) for session in sessions]


async def close_all(sessions, readers):
    await asyncio.gather(*(session.ws.close() for session in sessions if session.ws), return_exceptions=True)
    await asyncio.wait(readers, timeout=10)


def expected_ids(bus_events, intents, shard):
    """Ids of the generated events (C2C_MESSAGE_CREATE) a session of this scope must get, in bus order: the
    routing rule of docs/downstream.md for an event keyed by its author's openid."""
    i, n = shard
    if not intents & C2C:
        return []
    return [event["id"] for event in bus_events if fnv1a64(event["d"]["author"]["user_openid"]) % n == i]
