#!/usr/bin/python3
"""The relay against the official Node SDK: the same simulator flood, in one run, into

  * qq-guild-bot (tests/bench/sdk, pinned in its package-lock.json; `npm ci` there first): one Node process
    with one SDK client per shard, counting the events in its handler (sdk/qq-guild-bot_bench.cjs);
  * the relay with bench-subscriber behind it, end to end (run_bench.RelayRig);
  * the limit (bench-lws-sink) and the floor (bench-lws-sink --framing relay), as in run_bench.py.

For each shard count, every consumer takes the same flood `--repeats` times (interleaved) and the run with the
median events/s counts. Events/s is (received - 1) / (last receive - first receive) at the receiver; CPU is
/proc/<pid>/stat (all threads, 10 ms ticks) before and after, per event received.

    /usr/bin/python3 tests/bench/sdk_reference.py --bin-dir build-bench/bin [--json FILE]
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_bench as rb  # noqa: E402

SDK_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sdk")


def sdk_flood(sim, sdk, sdk_stats, shards, size, events):
    per_shard = max(1, events // shards)
    total = per_shard * shards
    sdk.send(f"expect {total} 5")
    sdk.read_json(30)  # {"expecting": total}: the events that come next are counted
    node0, sim0 = sdk_stats.snapshot(), sim.stats.snapshot()
    sim.post("/_sim/generate", {"count": per_shard, "rate": 0, "size": size})
    report = sdk.read_json(300)
    node1, sim1 = sdk_stats.snapshot(), sim.stats.snapshot()
    received = report["count"]
    node = rb.cpu_per_event(node0, node1, received)
    return {"events": total, "received": received, "lost": total - received, "eps": rb.events_per_second(report),
            "cpu_us": node["user"] + node["sys"], "main_thread_cpu_us": node["main"],
            "sim_cpu_us": sum(rb.cpu_per_event(sim0, sim1, received)[k] for k in ("user", "sys"))}


def start_sdk(workdir, sim, shards):
    node = shutil.which("node") or sys.exit("node is not installed")
    if not os.path.isdir(os.path.join(SDK_DIR, "node_modules", "qq-guild-bot")):
        sys.exit(f"{SDK_DIR}/node_modules lacks qq-guild-bot: run npm ci there")
    sdk = rb.LineProcess([node, os.path.join(SDK_DIR, "qq-guild-bot_bench.cjs"), sim.base, rb.APP_ID,
                          rb.SINK_BOT_TOKEN, str(shards)], workdir, f"sdk{shards}", stdin=True)
    ready = sdk.read_json(60)
    if ready.get("ready") != shards:
        raise RuntimeError(f"qq-guild-bot: unexpected {ready}")
    return sdk


def median_run(runs):
    """The run with the median events/s, and every run's events/s."""
    ordered = sorted(runs, key=lambda r: r["eps"])
    return dict(ordered[len(ordered) // 2], all_eps=[r["eps"] for r in runs])


def measure(bins, workdir, shards, size, events, repeats, sndhwm):
    sdk_sim = rb.Sim(bins, workdir, f"sim-sdk{shards}", "--shards", str(shards), "--max-concurrency", str(shards))
    sink_sim = rb.Sim(bins, workdir, f"sim-sink{shards}", "--shards", str(shards), "--max-concurrency", str(shards))
    sdk, rig = None, None
    runs = {"sdk": [], "relay": [], "limit": [], "floor": []}
    try:
        sdk = start_sdk(workdir, sdk_sim, shards)
        sdk_stats = rb.ProcStats(sdk.proc.pid)
        rig = rb.RelayRig(bins, workdir, shards, name=f"relay{shards}", sndhwm=sndhwm)
        rig.start_subscriber(bins)
        for i in range(repeats):
            rb.log(f"{shards} shard(s), run {i + 1}/{repeats}: load average {os.getloadavg()[0]:.2f}")
            runs["sdk"].append(sdk_flood(sdk_sim, sdk, sdk_stats, shards, size, events))
            runs["relay"].append(rig.flood(size, events))
            runs["limit"].append(rb.sink_flood(bins, workdir, sink_sim, shards, size, events))
            runs["floor"].append(rb.sink_flood(bins, workdir, sink_sim, shards, size, events, framing="relay"))
            rb.log("  " + ", ".join(f"{k} {v[-1]['eps']:,.0f}/s" for k, v in runs.items()))
    finally:
        for part in (sdk, rig, sdk_sim, sink_sim):
            if part is not None:
                part.close()
    row = {"shards": shards, "size": size, "events": events, "runs": runs}
    row.update({k: median_run(v) for k, v in runs.items()})
    r = row["relay"]
    row["frame_bytes"] = r["mb_s"] * 1e6 / r["eps"] if r["eps"] else 0.0
    row["relay_over_sdk"] = r["eps"] / row["sdk"]["eps"] if row["sdk"]["eps"] else 0.0
    return row


def markdown(results):
    out = [f"Load average {results['loadavg_start']:.2f} at the start, {results['loadavg_end']:.2f} at the end; "
           f"{results['events']:,} events of {results['size']} B per flood (frames of about "
           f"{results['rows'][0]['frame_bytes']:.0f} B), median of {results['repeats']}, relay publish.sndhwm "
           f"{results['sndhwm']}.", ""]
    out.append("| shards | consumer | events/s (median) | runs | CPU µs per event | of which | lost |")
    out.append("|---:|---|---:|---|---:|---|---:|")
    for row in results["rows"]:
        runs = lambda key: " / ".join(f"{e / 1000:,.0f}k" for e in row[key]["all_eps"])  # noqa: E731
        s, r, lim, f = row["sdk"], row["relay"], row["limit"], row["floor"]
        c = r["relay_cpu_us"]
        n = row["shards"]
        out.append(f"| {n} | qq-guild-bot (Node) | {s['eps']:,.0f} | {runs('sdk')} | {s['cpu_us']:.2f} "
                   f"| main thread {s['main_thread_cpu_us']:.2f}; sim {s['sim_cpu_us']:.2f} | {s['lost']} |")
        out.append(f"| {n} | relay + bench-subscriber | {r['eps']:,.0f} | {runs('relay')} "
                   f"| {c['user'] + c['sys'] + r['sub_cpu_us']:.2f} | relay {c['user'] + c['sys']:.2f} (event loop "
                   f"{c['main']:.2f}, ZeroMQ I/O {c['zmq_io']:.2f}, other {c['other']:.2f}); subscriber "
                   f"{r['sub_cpu_us']:.2f}; sim {r['sim_cpu_us']:.2f} | {r['lost']} |")
        out.append(f"| {n} | limit (bench-lws-sink) | {lim['eps']:,.0f} | {runs('limit')} | {lim['sink_cpu_us']:.2f} "
                   f"| sim {lim['sim_cpu_us']:.2f} | {lim['events'] - lim['received']} |")
        out.append(f"| {n} | floor (--framing relay) | {f['eps']:,.0f} | {runs('floor')} | {f['sink_cpu_us']:.2f} "
                   f"| sim {f['sim_cpu_us']:.2f} | {f['events'] - f['received']} |")
    out += ["", "Targets:", ""]
    for row in results["rows"]:
        ratio = row["relay_over_sdk"]
        lost = row["relay"]["lost"]
        out.append(f"- {'met' if ratio >= 1.5 and lost == 0 else '**missed**'}: end to end >= 1.5 × qq-guild-bot "
                   f"events/s with no loss, {row['shards']} shard(s) ({ratio:.2f}×, lost {lost})")
        cpu = row["relay"]["relay_cpu_us"]
        out.append(f"- {'met' if cpu['user'] + cpu['sys'] <= 1.2 else '**missed**'}: relay CPU <= 1.2 µs per event, "
                   f"{row['shards']} shard(s) ({cpu['user'] + cpu['sys']:.2f} µs)")
    return "\n".join(out)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin-dir", default=os.path.join(here, "..", "..", "build-bench", "bin"))
    parser.add_argument("--shards", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--events", type=int, default=200_000, help="events per flood (default 200 000)")
    parser.add_argument("--size", type=int, default=300, help="event size in bytes (default 300)")
    parser.add_argument("--repeats", type=int, default=3, help="floods per consumer; the median counts")
    parser.add_argument("--sndhwm", type=int, default=1_000_000,
                        help="the relay's publish.sndhwm (default 1 000 000, above the flood, so that PUB never "
                             "drops: the SDK's socket pushes back on the simulator instead)")
    parser.add_argument("--json", help="write every number here")
    parser.add_argument("--keep", action="store_true", help="keep the working directory with the logs")
    parser.add_argument("--transport", choices=["tcp", "ipc"], default="tcp",
                        help="the subscribers' transport: tcp:// on loopback (default) or an ipc:// Unix socket")
    args = parser.parse_args()
    rb.TRANSPORT["name"] = args.transport
    bins = rb.binaries(args.bin_dir)
    workdir = tempfile.mkdtemp(prefix="qq-relay-sdkref-")
    results = {"events": args.events, "size": args.size, "repeats": args.repeats, "sndhwm": args.sndhwm,
               "machine": rb.machine(), "loadavg_start": os.getloadavg()[0], "rows": []}
    started = time.monotonic()
    try:
        for shards in args.shards:
            results["rows"].append(measure(bins, workdir, shards, args.size, args.events, args.repeats,
                                           args.sndhwm))
    finally:
        results["loadavg_end"] = os.getloadavg()[0]
        results["seconds"] = time.monotonic() - started
        if args.json:
            with open(args.json, "w") as f:
                json.dump(results, f, indent=1)
        if args.keep:
            rb.log(f"logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(markdown(results))
    rb.log(f"took {results['seconds']:.0f} s")


if __name__ == "__main__":
    main()
