#!/usr/bin/python3
"""The gateway served to SDK bots, at scale: what idle sessions cost the relay, and what it spends to fan a
10 000 events/s stream out to 200 sessions, each with its own intents and shard.

  * idle: the relay's RSS and open descriptors with 0, 100, 500 and 1000 identified, idle sessions (intents
    GROUP_AND_C2C_EVENT, shard [0, 1]), and its CPU over a few seconds with 1000 of them;
  * no sessions: the same stream with no session, for the relay's CPU per event before any fan-out;
  * bench-lws-sink alone: the same stream into 16 sessions (shards [i, 16]) held by bench-lws-sink, a
    libwebsockets client in C (cmake --build BUILD --target bench): the latency from the simulator's write to
    the client's read (both CLOCK_MONOTONIC) with no Python in it;
  * fan-out: the 201 scopes of tests/integration/test_downstream_scale.py (108 of them with
    GROUP_AND_C2C_EVENT, in 15 shard layouts, so each event is sent 15 times) and the sink's 16 beside them:
    the relay's CPU (utime + stime of all its threads, /proc/PID/stat) per event and per copy sent, whether
    every session got exactly its share, and the latency, p50/p99 over every copy, into the Python sessions
    and into the sink.

Each stream is `--events` events at `--rate` events/s (qq-gateway-sim --stamp --rate-tick-us 1000) over 2
gateway shards and 2 000 authors (`users` of /_sim/generate). The Python sessions are held by one asyncio
loop of `websockets` in this process, so that client, the relay and the simulator share the machine's cores,
and the Python latency is mostly the client's own queueing.
Prints Markdown tables (the ones in docs/performance.md) and writes every number to --json.

    /usr/bin/python3 tests/bench/downstream_sessions.py --bin-dir build-bench/bin [--json FILE]
"""
import argparse
import asyncio
import json
import os
import resource
import shutil
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

CLK_TCK = os.sysconf("SC_CLK_TCK")
KEY = "b" * 20 + "-bench-sdk-bot-key-01234"
TOKEN = f"Bot 102000000.{KEY}"
SIM_SHARDS = 2
USERS = 1000


def proc_rss(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def proc_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def proc_cpu_s(pid):
    """utime + stime of every thread of the process, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


def stamp_ns(text):
    at = text.find('"send_ns":"')
    return int(text[at + 11:at + 30]) if at >= 0 else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin-dir", required=True)
    parser.add_argument("--idle-steps", type=int, nargs="+", default=[0, 100, 500, 1000])
    parser.add_argument("--rate", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--json")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    bin_dir = os.path.abspath(args.bin_dir)
    os.environ["QQ_RELAY_BIN"] = os.path.join(bin_dir, "qq-gateway-relay")
    os.environ["QQ_SIM_BIN"] = os.path.join(bin_dir, "qq-gateway-sim")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))

    # After the environment: harness reads the binaries' paths when it is imported.
    from gateway_sessions import C2C, Session, close_all, expected_ids, open_all, probe_guild_ids
    from harness import Relay, Sim, Subscriber, relay_config, wait_for, workdir
    from run_bench import LineProcess
    from test_downstream_scale import scopes
    from webhook_client import accepts_connections, free_port

    results = {}
    tmp = workdir()
    sim = Sim(tmp, "--shards", str(SIM_SHARDS), "--event-size", "300", "--stamp", "--rate-tick-us", "1000")
    api_port = free_port()
    clients_file = os.path.join(tmp, "clients")
    with open(clients_file, "w") as f:
        f.write(f"bench-bot {KEY}\n")
    endpoint = f"ipc://{tmp}/pub.sock"
    config = relay_config(sim, endpoint, f"{tmp}/state", extra_gateway=f"shards = {SIM_SHARDS}") + f"""
[api]
enabled = true
listen = "127.0.0.1:{api_port}"
clients_file = "{clients_file}"
max_connections = {max(args.idle_steps) + 512}
max_client_buffer = 268435456
"""
    config = config.replace('level = "debug"', 'level = "warn"')
    subscriber = Subscriber(endpoint)
    relay = Relay(tmp, config)
    pid = relay.proc.pid
    url = f"ws://127.0.0.1:{api_port}/websocket"
    loop = asyncio.new_event_loop()
    held = []  # (sessions, readers)
    sink = None

    def run(coroutine, timeout):
        return loop.run_until_complete(asyncio.wait_for(coroutine, timeout))

    async def settle(seconds):
        await asyncio.sleep(seconds)

    async def until(predicate, timeout, what):
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout} s waiting for {what}")
            await asyncio.sleep(0.05)

    def log(text):
        print(text, file=sys.stderr, flush=True)

    try:
        wait_for(lambda: [s["connected"] for s in sim.get("/_sim/state")["shards"]] == [True] * SIM_SHARDS, 30,
                 "the relay's shards READY")
        wait_for(lambda: accepts_connections(api_port), 10, "the API listener")
        subscriber.sync(sim, 0)

        # Idle sessions: open up to each step, let the relay settle, read its RSS and descriptors.
        idle = []
        idle_sessions = []
        for step in args.idle_steps:
            more = [Session(url, TOKEN, C2C, (0, 1)) for _ in range(step - len(idle_sessions))]
            if more:
                held.append((more, run(open_all(more), 120)))
                idle_sessions += more
            run(settle(2.0), 10)
            idle.append({"sessions": step, "rss": proc_rss(pid), "fds": proc_fds(pid)})
            log(f"idle: {idle[-1]}")
        base, top = idle[0], idle[-1]
        per_session = (top["rss"] - base["rss"]) / max(1, top["sessions"] - base["sessions"])
        cpu_before = proc_cpu_s(pid)
        window = 5.0
        run(settle(window), 20)
        idle_cpu = (proc_cpu_s(pid) - cpu_before) / window
        results["idle"] = {"steps": idle, "rss_per_session": per_session, "cpu_share_at_top": idle_cpu}
        for sessions, readers in held:
            run(close_all(sessions, readers), 60)
        held.clear()
        wait_for(lambda: proc_fds(pid) <= base["fds"] + 2, 30, "the idle sessions' descriptors closed")

        # The same stream with no session: what the relay spends on an event before any fan-out.
        def generated_count():
            return sum(1 for t, _, _ in subscriber.snapshot() if t == b"C2C_MESSAGE_CREATE")

        events = args.events // SIM_SHARDS * SIM_SHARDS

        def stream(what):
            """Streams the events; returns (relay CPU seconds, seconds) until the last is on the bus."""
            before = generated_count()
            cpu_before = proc_cpu_s(pid)
            started = time.monotonic()
            sim.post("/_sim/generate", {"count": args.events // SIM_SHARDS, "rate": args.rate / SIM_SHARDS,
                                        "users": USERS, "size": 300})
            run(until(lambda: generated_count() >= before + events, 600, what), 610)
            return proc_cpu_s(pid) - cpu_before, time.monotonic() - started

        base_cpu, base_s = stream("every event on the bus, without sessions")
        results["no_sessions"] = {"events": events, "relay_cpu_s": base_cpu, "seconds": base_s,
                                  "cpu_us_per_event": base_cpu / events * 1e6}
        log(f"no sessions: {results['no_sessions']}")
        with subscriber.lock:
            subscriber.messages.clear()

        sink_bin = os.path.join(bin_dir, "bench-lws-sink")

        def start_sink():
            """A libwebsockets client as 16 sessions (every shard of 16): a latency without Python's."""
            if not os.path.exists(sink_bin):
                return None
            process = LineProcess([sink_bin, "--url", url, "--shards", "16", "--token", TOKEN, "--count",
                                   str(events), "--timeout", "30", "--latency"], tmp, "sink")
            ready = process.read_json(60)
            if not ready.get("ready"):
                raise RuntimeError(f"sink: unexpected {ready}")
            return process

        # The same stream into the sink's 16 sessions alone: the latency of the served gateway on its own.
        sink = start_sink()
        if sink:
            stream("every event on the bus, into the sink alone")
            results["sink_alone"] = sink.read_json(60)
            sink.close()
            sink = None
            log(f"sink alone: {results['sink_alone']}")
        with subscriber.lock:
            subscriber.messages.clear()

        # Fan-out: the test's 201 scopes at the full rate, and the sink's 16 sessions beside them.
        sessions = [Session(url, TOKEN, intents, shard) for intents, shard in scopes()]
        held.append((sessions, run(open_all(sessions), 120)))
        sink = start_sink()
        run(settle(1.0), 10)
        cpu_before = proc_cpu_s(pid)
        started = time.monotonic()
        _, bus_s = stream("every event on the bus")
        guild_ids = probe_guild_ids()
        for guild_id in guild_ids:
            sim.post("/_sim/send", {"shard": 0, "t": "PROBE", "d": {"guild_id": guild_id}})
        wanted = {id(s): len(guild_ids) // s.shard[1] for s in sessions}
        run(until(lambda: all(s.probes >= wanted[id(s)] or s.closed is not None for s in sessions), 600,
                  "every session's probes"), 610)
        total_s = time.monotonic() - started
        cpu = proc_cpu_s(pid) - cpu_before
        sink_report = sink.read_json(60) if sink else None
        bus = [json.loads(body) for t, body, _ in subscriber.snapshot() if t == b"C2C_MESSAGE_CREATE"]
        latencies = []
        complete = 0
        sent = 0
        for session in sessions:
            got = [(text, at) for text, at in zip(session.texts, session.times)
                   if text.startswith('{"op":0') and '"t":"C2C_MESSAGE_CREATE"' in text]
            want = expected_ids(bus, session.intents, session.shard)
            ids = [json.loads(text)["id"] for text, _ in got]
            complete += ids == want and session.closed is None
            sent += len(got)
            latencies += [(at - stamp_ns(text)) / 1e6 for text, at in got]
        # The sink's 16 sessions are one more layout: each event reaches one of them.
        sink_copies = sink_report["count"] if sink_report else 0
        sent += sink_copies
        results["fanout"] = {
            "sessions": len(sessions) + (16 if sink_report else 0),
            "layouts": sum(1 for s in sessions if s.intents & C2C and s.shard[0] == 0) + (1 if sink_report else 0),
            "events": events, "rate": args.rate, "sent": sent, "bus_seconds": bus_s, "seconds": total_s,
            "complete_sessions": complete + (16 if sink_copies == events else 0), "relay_cpu_s": cpu,
            "cpu_us_per_event": cpu / events * 1e6, "cpu_us_per_copy": cpu / max(1, sent) * 1e6,
            "relay_cpu_share": cpu / total_s,
            "added_cpu_us_per_copy": (cpu - base_cpu) / max(1, sent) * 1e6,
            "latency_ms": {"p50": percentile(latencies, 50), "p99": percentile(latencies, 99),
                           "max": max(latencies)} if latencies else None,
            "rss_after": proc_rss(pid),
            "sink": sink_report,
        }
        log(f"fanout: {results['fanout']}")
    finally:
        for sessions, readers in held:
            try:
                run(close_all(sessions, readers), 60)
            except Exception as error:  # noqa: BLE001 - the tear-down goes on
                log(f"closing sessions: {error!r}")
        loop.close()
        if sink:
            sink.close()
        for part in (subscriber, relay, sim):
            part.close()
        if args.keep:
            log(f"logs kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    idle = results["idle"]
    print("| idle sessions | relay RSS (MiB) | open descriptors |")
    print("|---:|---:|---:|")
    for row in idle["steps"]:
        print(f"| {row['sessions']} | {row['rss'] / 2 ** 20:.1f} | {row['fds']} |")
    print(f"\nRSS per idle session: {idle['rss_per_session'] / 1024:.1f} KiB; relay CPU with "
          f"{idle['steps'][-1]['sessions']} idle sessions: {idle['cpu_share_at_top'] * 100:.2f}% of a core\n")
    f = results["fanout"]
    print("| sessions (layouts) | events, rate | copies sent | sessions complete | relay CPU | CPU per event | "
          "CPU per copy | added CPU per copy | Python's latency p50 / p99 / max |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---|")
    b = results["no_sessions"]
    print(f"| 0 | {b['events']} at {f['rate']}/s | 0 | - | {b['relay_cpu_s']:.2f} s over {b['seconds']:.1f} s | "
          f"{b['cpu_us_per_event']:.1f} µs | - | - | - |")
    lat = f["latency_ms"] or {"p50": 0, "p99": 0, "max": 0}
    print(f"| {f['sessions']} ({f['layouts']}) | {f['events']} at {f['rate']}/s | {f['sent']} | "
          f"{f['complete_sessions']}/{f['sessions']} | {f['relay_cpu_s']:.2f} s over {f['seconds']:.1f} s "
          f"({f['relay_cpu_share'] * 100:.0f}% of a core) | {f['cpu_us_per_event']:.1f} µs | "
          f"{f['cpu_us_per_copy']:.2f} µs | {f['added_cpu_us_per_copy']:.2f} µs | "
          f"{lat['p50']:.2f} / {lat['p99']:.2f} / {lat['max']:.1f} ms |")
    if f["sink"]:
        print("\nLatency into bench-lws-sink (16 sessions, shards [i, 16], a libwebsockets client):\n")
        print("| beside it | events received | p50 | p99 | p99.9 | max |")
        print("|---|---:|---:|---:|---:|---:|")
        for what, sink in (("nothing", results.get("sink_alone")), (f"{len(scopes())} Python sessions", f["sink"])):
            if sink:
                print(f"| {what} | {sink['count']}/{f['events']} | {sink['p50_us'] / 1000:.2f} ms | "
                      f"{sink['p99_us'] / 1000:.2f} ms | {sink['p999_us'] / 1000:.2f} ms | "
                      f"{sink['max_us'] / 1000:.2f} ms |")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(results, out, indent=2)
    return 0 if f["complete_sessions"] == f["sessions"] else 1


if __name__ == "__main__":
    sys.exit(main())
