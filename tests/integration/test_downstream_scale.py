#!/usr/bin/python3
"""Many SDK bots at once on the gateway the relay serves (docs/downstream.md): 200 downstream sessions, held by
one asyncio loop of Python's `websockets` client, each with its own intents and shard (every i of n = 1, 2, 4,
8 and 16, with and without GROUP_AND_C2C_EVENT), while the simulator streams 30 000 generated events at
10 000 events/s over 2 gateway shards, spread over 2 000 authors (`users` of /_sim/generate). Each session must
get exactly its share: the ids of the generated events whose author's openid hashes (FNV-1a 64) to its shard,
in bus order, none twice, with `s` counting up from 2 without a gap; a session without GROUP_AND_C2C_EVENT gets
none of them, which the final probes (one per shard of 16, each reaching every layout's matching session after
everything before it on the bus) prove.
Environment: QQ_RELAY_BIN, QQ_SIM_BIN.
"""
import asyncio
import json
import os
import time

from gateway_sessions import (C2C, GUILDS, PUBLIC_GUILD_MESSAGES, Session, close_all, every_shard,
                                 expected_ids, open_all, probe_guild_ids)
from harness import Checks, Relay, Sim, Subscriber, expect, relay_config, tear_down, wait_for, workdir
from webhook_client import accepts_connections, free_port

KEY = "k" * 20 + "-sdk-bot-key-0123456789"
SIM_SHARDS = 2
EVENTS = 30_000
RATE = 10_000  # events/s over all the simulator's shards
USERS = 1000  # authors per simulator shard


def scopes():
    """201 scopes: 108 with GROUP_AND_C2C_EVENT in 15 layouts (so each generated event reaches 15 of them),
    93 without."""
    out = every_shard(C2C) + every_shard(C2C | GUILDS, (1, 2, 4, 8, 16))
    out += every_shard(C2C | PUBLIC_GUILD_MESSAGES, (2, 4, 8, 16))
    out += every_shard(C2C | GUILDS | PUBLIC_GUILD_MESSAGES, (16,))
    return out + every_shard(GUILDS) + every_shard(GUILDS | PUBLIC_GUILD_MESSAGES) + every_shard(PUBLIC_GUILD_MESSAGES)


def main():
    checks = Checks()
    tmp = workdir()
    sim = Sim(tmp, "--shards", str(SIM_SHARDS), "--event-size", "300")
    api_port = free_port()
    clients_file = os.path.join(tmp, "clients")
    with open(clients_file, "w") as f:
        f.write(f"sdk-bot {KEY}\n")
    endpoint = f"ipc://{tmp}/pub.sock"
    config = relay_config(sim, endpoint, f"{tmp}/state", extra_gateway=f"shards = {SIM_SHARDS}") + f"""
[api]
enabled = true
listen = "127.0.0.1:{api_port}"
clients_file = "{clients_file}"
max_connections = 512
max_client_buffer = 67108864
"""
    config = config.replace('level = "debug"', 'level = "info"')
    subscriber = Subscriber(endpoint)
    relay = Relay(tmp, config)
    parts = [subscriber, relay, sim]
    url = f"ws://127.0.0.1:{api_port}/websocket"
    token = f"Bot 102000000.{KEY}"
    sessions = [Session(url, token, intents, shard) for intents, shard in scopes()]
    loop = asyncio.new_event_loop()
    readers = []

    def run(coroutine, timeout):
        return loop.run_until_complete(asyncio.wait_for(coroutine, timeout))

    async def until(predicate, timeout, what):
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout} s waiting for {what}")
            await asyncio.sleep(0.05)

    def generated_count():
        return sum(1 for t, _, _ in subscriber.snapshot() if t == b"C2C_MESSAGE_CREATE")

    def generated_on_bus():
        return [json.loads(body) for t, body, _ in subscriber.snapshot() if t == b"C2C_MESSAGE_CREATE"]

    try:
        wait_for(lambda: [s["connected"] for s in sim.get("/_sim/state")["shards"]] == [True] * SIM_SHARDS, 30,
                 "the relay's shards READY")
        wait_for(lambda: accepts_connections(api_port), 10, "the API listener")
        subscriber.sync(sim, 0)

        def sessions_identify():
            readers.extend(run(open_all(sessions), 60))
            expect(len(sessions) >= 200 and all(s.ready for s in sessions), "every session READY")
            expect(len({(s.intents, s.shard) for s in sessions}) == len(sessions), "each scope once")
        checks.run(f"{len(sessions)} sessions identify, each with its own intents and shard", sessions_identify)

        def stream_reaches_every_share():
            expect(len(readers) == len(sessions), "sessions open")
            started = time.monotonic()
            sim.post("/_sim/generate", {"count": EVENTS // SIM_SHARDS, "rate": RATE / SIM_SHARDS, "users": USERS,
                                        "size": 300})
            run(until(lambda: generated_count() >= EVENTS, 60, f"{EVENTS} generated events on the bus"), 65)
            bus_seconds = time.monotonic() - started
            # One probe per shard of 16, after the stream: a session has everything before the probes once it
            # has every probe of its shard (an event type no intent lists reaches every session).
            guild_ids = probe_guild_ids()
            for guild_id in guild_ids:
                sim.post("/_sim/send", {"shard": 0, "t": "PROBE", "d": {"guild_id": guild_id}})
            wanted = {id(s): len(guild_ids) // s.shard[1] for s in sessions}
            run(until(lambda: all(s.probes >= wanted[id(s)] or s.closed is not None for s in sessions), 90,
                      "every session's probes"), 95)
            # The rate is what the simulator asks for; a slower build (ASan) streams as fast as it can.
            print(f"  bus had all {EVENTS} events after {bus_seconds:.1f} s ({EVENTS / bus_seconds:.0f} events/s); "
                  f"every session had its share after {time.monotonic() - started:.1f} s", flush=True)
            closed = [(s.intents, s.shard, s.closed) for s in sessions if s.closed is not None]
            expect(not closed, f"sessions closed by the relay: {closed[:5]}")
            bus = generated_on_bus()
            expect(len(bus) == EVENTS and len({e["id"] for e in bus}) == EVENTS, f"{len(bus)} events on the bus")
            authors = {e["d"]["author"]["user_openid"] for e in bus}
            expect(len(authors) == USERS * SIM_SHARDS, f"{len(authors)} authors")
            delivered = 0
            for session in sessions:
                what = f"session {session.shard} intents {session.intents:#x}"
                dispatches = session.dispatches()
                s_values = [d["s"] for d in dispatches]
                expect(s_values == list(range(2, 2 + len(dispatches))), f"{what}: s not consecutive from 2")
                got = [d["id"] for d in dispatches if d["t"] == "C2C_MESSAGE_CREATE"]
                want = expected_ids(bus, session.intents, session.shard)
                expect(len(set(got)) == len(got), f"{what}: {len(got) - len(set(got))} events twice")
                expect(set(got) == set(want), f"{what}: {len(set(want) - set(got))} missing, "
                                              f"{len(set(got) - set(want))} not its own")
                expect(got == want, f"{what}: not in bus order")
                probes = [d["d"]["guild_id"] for d in dispatches if d["t"] == "PROBE"]
                i, n = session.shard
                expect(probes == [g for j, g in enumerate(guild_ids) if j % n == i], f"{what}: probes {probes}")
                expect(len(dispatches) == len(got) + len(probes), f"{what}: other events")
                delivered += len(got)
            # Every layout covers every event once: 15 layouts of C2C sessions, so 15 copies of each.
            layouts = sum(1 for s in sessions if s.intents & C2C and s.shard[0] == 0)
            expect(delivered == EVENTS * layouts, f"{delivered} deliveries for {layouts} layouts")
            without = [s for s in sessions if not s.intents & C2C]
            expect(len(without) >= 50 and all(not any('"t":"C2C' in t for t in s.texts) for s in without),
                   "sessions without GROUP_AND_C2C_EVENT get no generated event")
        checks.run(f"{EVENTS} events at {RATE} events/s: every session gets exactly its share",
                   stream_reaches_every_share)
    finally:
        try:
            run(close_all(sessions, readers), 30)
        except Exception as error:  # noqa: BLE001 - the tear-down goes on
            print(f"closing the sessions: {error!r}")
        loop.close()
        tear_down(checks, tmp, *parts)
    checks.finish()


if __name__ == "__main__":
    main()
