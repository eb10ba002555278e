#!/usr/bin/python3
"""What cluster mode costs: the same relay, with and without `[cluster] enabled = true`, against a local
redis-server on a loopback port (docs/cluster.md). Reuses run_bench.py's rig (simulator -> relay ->
bench-subscriber) and measures, side by side:

  * flood throughput (events/s) and the relay's CPU µs per event, 16 shards × 300 B, and Redis' CPU per event;
  * added latency p50/p99/p99.9 at 1 000 and 10 000 events/s (simulator write -> subscriber receive);
  * Redis' used_memory growth per 100 000 distinct events (the `seen:<event_id>` keys with their PX expiry).

Both relays run at once (one idle while the other is measured), and the two modes alternate within each
repeat, so that a change in the machine's load hits both. Each measurement runs --repeats times (default 3);
the tables show the median and the range.

    /usr/bin/python3 tests/bench/cluster_cost.py --bin-dir build-bench/bin [--quick] [--json FILE]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import run_bench as rb  # noqa: E402
from cluster_redis import RedisServer  # noqa: E402

FULL = {"shards": 16, "size": 300, "flood_events": 400_000, "repeats": 3, "rates": [1_000, 10_000],
        "warmup_s": 1.0, "seconds": 10.0, "memory_events": 100_000}
QUICK = dict(FULL, flood_events=100_000, repeats=1, warmup_s=0.5, seconds=3.0)
MODES = ("single", "cluster")


def wait_quiet(max_load, interval=30.0, limit=600.0):
    """Waits (up to `limit` s) until the 1-minute load average is below max_load; returns the last one seen."""
    deadline = time.monotonic() + limit
    load = os.getloadavg()[0]
    while load >= max_load and time.monotonic() < deadline:
        rb.log(f"load average {load:.2f} >= {max_load}: waiting {interval:g} s")
        time.sleep(interval)
        load = os.getloadavg()[0]
    return load


def relay_config(shards, metrics_port, redis=None):
    """([gateway] lines, extra sections): the same layout and metrics in both modes, plus the cluster."""
    extra = f"[metrics]\nlisten = \"127.0.0.1:{metrics_port}\"\n"
    if redis is not None:
        extra += (f"[cluster]\nenabled = true\nredis = \"redis://127.0.0.1:{redis.port}/0\"\nnode = \"bench\"\n")
    return f"shards = {shards}", extra


def scrape(metrics_port, name):
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as response:
        for line in response.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    return None


class HeldSampler:
    """Polls qq_relay_cluster_held_messages every 50 ms while a flood runs; keeps the largest value."""

    def __init__(self, metrics_port):
        self.metrics_port = metrics_port
        self.peak = 0.0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop.wait(0.05):
            try:
                self.peak = max(self.peak, scrape(self.metrics_port, "qq_relay_cluster_held_messages") or 0.0)
            except OSError:
                pass

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(5)


def redis_info(conn, field):
    for line in conn.command("INFO", "memory").splitlines():
        if line.startswith(field + ":"):
            return int(line.split(":", 1)[1])
    raise RuntimeError(f"no {field} in INFO memory")


def seen_keys(conn):
    # The cluster's other keys (leases, fences, positions, nodes, identify) are a few dozen: DBSIZE is enough.
    return conn.command("DBSIZE")


def redis_round_trip_us(conn, n=2000):
    """Median and p99 of PING from Python on loopback: an upper bound of the bare round trip."""
    samples = []
    for _ in range(n):
        t0 = time.perf_counter_ns()
        conn.command("PING")
        samples.append((time.perf_counter_ns() - t0) / 1000)
    samples.sort()
    return {"p50_us": samples[n // 2], "p99_us": samples[int(n * 0.99)]}


def flood(rig, mode, size, events, redis_stats, metrics_port):
    redis0 = redis_stats.snapshot()
    if mode == "cluster":
        with HeldSampler(metrics_port) as sampler:
            r = rig.flood(size, events)
        r["held_peak"] = sampler.peak
    else:
        r = rig.flood(size, events)
    redis_cpu = rb.cpu_per_event(redis0, redis_stats.snapshot(), r["received"])
    r["redis_cpu_us"] = redis_cpu["user"] + redis_cpu["sys"]
    c = r["relay_cpu_us"]
    r["relay_cpu_total_us"] = c["user"] + c["sys"]
    return r


def memory(rig, conn, p):
    """used_memory growth per memory_events distinct events, measured `repeats` times in a row."""
    runs = []
    for _ in range(p["repeats"]):
        used0, keys0 = redis_info(conn, "used_memory"), seen_keys(conn)
        r = rig.flood(p["size"], p["memory_events"])
        # SET seen:<id> follows each publish without being waited for: wait until every one has landed.
        rb.wait_for(lambda: seen_keys(conn) >= keys0 + r["received"], 60, "the seen keys in Redis")
        time.sleep(0.5)
        used1, keys1 = redis_info(conn, "used_memory"), seen_keys(conn)
        runs.append({"events": r["received"], "keys_added": keys1 - keys0, "used_before": used0,
                     "used_after": used1, "bytes_per_key": (used1 - used0) / max(keys1 - keys0, 1),
                     "mib_per_100k": (used1 - used0) / max(keys1 - keys0, 1) * 100_000 / 2**20})
        rb.log(f"memory: +{keys1 - keys0} keys, used_memory {used0 / 2**20:.1f} -> {used1 / 2**20:.1f} MiB, "
               f"{runs[-1]['bytes_per_key']:.0f} B per key")
    ttl = conn.command("PTTL", conn.command("RANDOMKEY"))
    return {"runs": runs, "sample_pttl_ms": ttl, "used_memory_peak": redis_info(conn, "used_memory_peak")}


def perf_record(rig, path, p, seconds=4.0):
    """perf record (DWARF call graphs) on the cluster relay for `seconds` in the middle of an extra flood."""
    events = p["flood_events"] * 2
    per_shard = events // p["shards"]
    rig.sub.send(f"expect {per_shard * p['shards']} 5")
    rig.sim.post("/_sim/generate", {"count": per_shard, "rate": 0, "size": p["size"]})
    time.sleep(1.0)
    subprocess.run(["perf", "record", "-F", "999", "--call-graph", "dwarf,16384", "-o", path, "-p",
                    str(rig.relay.proc.pid), "--", "sleep", str(seconds)],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    report = rig.sub.read_json(300)
    rb.log(f"perf: {path} ({rb.events_per_second(report):,.0f} events/s during the flood it sampled)")
    return {"file": path, "events": report["count"], "eps": rb.events_per_second(report)}


def median_range(values):
    return statistics.median(values), min(values), max(values)


def fmt(values, spec="{:,.0f}"):
    med, lo, hi = median_range(values)
    if len(values) == 1:
        return spec.format(med)
    return f"{spec.format(med)} ({spec.format(lo)} to {spec.format(hi)})"


def markdown(results):
    p, m = results["params"], results["machine"]
    out = [f"Machine: {m['nproc']} × {m['cpu']}, Linux {m['kernel']}; load average {m['loadavg_start']:.2f} at "
           f"the start, {m.get('loadavg_end', 0):.2f} at the end. {p['shards']} shards, {p['size']} B events; "
           f"median of {p['repeats']} (range in brackets). Python PING round trip to the Redis: "
           f"p50 {results['ping']['p50_us']:.0f} µs, p99 {results['ping']['p99_us']:.0f} µs.", ""]
    fl = results.get("flood")
    if fl:
        out.append(f"Flood of {p['flood_events']:,} events:")
        out.append("")
        out.append("| mode | relay events/s | relay CPU µs/event (user + sys) | of which event loop / ZeroMQ I/O / "
                   "other | Redis CPU µs/event | relay + Redis µs/event | peak held messages | lost |")
        out.append("|---|---:|---:|---:|---:|---:|---:|---:|")
        for mode in MODES:
            runs = fl[mode]
            split = " / ".join(f"{statistics.median(r['relay_cpu_us'][k] for r in runs):.2f}"
                               for k in ("main", "zmq_io", "other"))
            held = fmt([r["held_peak"] for r in runs]) if mode == "cluster" else "-"
            out.append(f"| {mode} | {fmt([r['eps'] for r in runs])} "
                       f"| {fmt([r['relay_cpu_total_us'] for r in runs], '{:.2f}')} | {split} "
                       f"| {fmt([r['redis_cpu_us'] for r in runs], '{:.2f}')} "
                       f"| {fmt([r['relay_cpu_total_us'] + r['redis_cpu_us'] for r in runs], '{:.2f}')} "
                       f"| {held} | {fmt([r['lost'] for r in runs])} |")
    lat = results.get("latency")
    if lat:
        out.append("")
        out.append(f"Added latency, simulator write to subscriber receive ({p['seconds']:g} s after "
                   f"{p['warmup_s']:g} s of warm-up), and its part up to the relay's received_at_us stamp, which is "
                   f"taken before the duplicate check, so the check's wait is in the rest:")
        out.append("")
        out.append("| rate /s | mode | p50 µs | p99 µs | p99.9 µs | write -> received_at_us p50 / p99 µs "
                   "| relay CPU µs/event | Redis CPU µs/event | lost |")
        out.append("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
        for rate in p["rates"]:
            for mode in MODES:
                runs = lat[str(rate)][mode]
                out.append(f"| {rate:,} | {mode} | {fmt([r['p50_us'] for r in runs])} "
                           f"| {fmt([r['p99_us'] for r in runs])} | {fmt([r['p999_us'] for r in runs])} "
                           f"| {statistics.median(r['in_us'][0] for r in runs):.0f} / "
                           f"{statistics.median(r['in_us'][1] for r in runs):.0f} "
                           f"| {fmt([r['user_s_per_m'] + r['sys_s_per_m'] for r in runs], '{:.1f}')} "
                           f"| {fmt([r['redis_cpu_us'] for r in runs], '{:.1f}')} "
                           f"| {fmt([r['lost'] for r in runs])} |")
    mem = results.get("memory")
    if mem:
        runs = mem["runs"]
        out.append("")
        out.append(f"Redis memory: used_memory growth per {p['memory_events']:,} distinct events "
                   f"({fmt([r['mib_per_100k'] for r in runs], '{:.1f}')} MiB per 100 000 keys, "
                   f"{fmt([r['bytes_per_key'] for r in runs], '{:.0f}')} B per key; a key's PTTL right after: "
                   f"{mem['sample_pttl_ms']} ms).")
    return "\n".join(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin-dir", default=os.path.join(HERE, "..", "..", "build-bench", "bin"))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, help="runs of each measurement (default 3, 1 with --quick)")
    parser.add_argument("--only", choices=["memory", "flood", "latency"], action="append")
    parser.add_argument("--max-load", type=float, default=1.0,
                        help="before starting, wait (30 s steps, 10 min at most) for a load average below this")
    parser.add_argument("--json", help="write every number here")
    parser.add_argument("--perf", metavar="FILE",
                        help="also record the cluster relay with perf for 4 s during an extra flood; read it with "
                             "perf report -i FILE --no-children --sort dso,sym")
    parser.add_argument("--keep", action="store_true", help="keep the working directory with the logs")
    args = parser.parse_args()

    names = {"relay": "qq-gateway-relay", "sim": "qq-gateway-sim", "sub": "bench-subscriber"}
    bins = {k: os.path.abspath(os.path.join(args.bin_dir, v)) for k, v in names.items()}
    for path in bins.values():
        if not os.access(path, os.X_OK):
            sys.exit(f"missing {path}: build the 'bench' target first")
    p = dict(QUICK if args.quick else FULL)
    if args.repeats:
        p["repeats"] = args.repeats
    parts = args.only or ["memory", "flood", "latency"]
    workdir = tempfile.mkdtemp(prefix="qq-relay-cluster-bench-")
    results = {"quick": args.quick, "params": p, "machine": rb.machine(), "loads": []}
    # Once, before anything starts: the benchmark itself keeps both cores busy, so its own load would make a
    # wait between the parts last minutes for nothing.
    results["machine"]["loadavg_start"] = wait_quiet(args.max_load)
    redis = RedisServer()
    conn = redis.connect()
    redis_stats = rb.ProcStats(redis.proc.pid)
    rigs, ports = {}, {}
    started = time.monotonic()
    failed = False
    try:
        results["ping"] = redis_round_trip_us(conn)
        for mode in MODES:
            ports[mode] = rb.free_port()
            gateway_extra, extra = relay_config(p["shards"], ports[mode], redis if mode == "cluster" else None)
            rigs[mode] = rb.RelayRig(bins, workdir, p["shards"], name=f"relay-{mode}", gateway_extra=gateway_extra,
                                     extra=extra)
            rigs[mode].start_subscriber(bins)
        if "memory" in parts:
            results["loads"].append(("memory", os.getloadavg()[0]))
            results["memory"] = memory(rigs["cluster"], conn, p)
        if "flood" in parts:
            results["loads"].append(("flood", os.getloadavg()[0]))
            results["flood"] = {mode: [] for mode in MODES}
            for i in range(p["repeats"]):
                for mode in MODES:
                    r = flood(rigs[mode], mode, p["size"], p["flood_events"], redis_stats, ports[mode])
                    results["flood"][mode].append(r)
                    rb.log(f"flood {i + 1} {mode}: {r['eps']:,.0f} events/s, relay {r['relay_cpu_total_us']:.2f} "
                           f"µs/event, Redis {r['redis_cpu_us']:.2f} µs/event, "
                           f"held peak {r.get('held_peak', 0):.0f}, lost {r['lost']}")
        if "latency" in parts:
            results["loads"].append(("latency", os.getloadavg()[0]))
            results["latency"] = {}
            for rate in p["rates"]:
                rows = results["latency"][str(rate)] = {mode: [] for mode in MODES}
                for i in range(p["repeats"]):
                    for mode in MODES:
                        redis0 = redis_stats.snapshot()
                        r = rigs[mode].paced(rate, p["size"], p["warmup_s"], p["seconds"])
                        redis_cpu = rb.cpu_per_event(redis0, redis_stats.snapshot(), r["received"])
                        r["redis_cpu_us"] = redis_cpu["user"] + redis_cpu["sys"]
                        rows[mode].append(r)
                        rb.log(f"paced {rate}/s {i + 1} {mode}: p50 {r['p50_us']:.0f} p99 {r['p99_us']:.0f} "
                               f"p99.9 {r['p999_us']:.0f} µs, lost {r['lost']}")
        if args.perf:
            results["perf"] = perf_record(rigs["cluster"], os.path.abspath(args.perf), p)
    except Exception:
        failed = True
        raise
    finally:
        for rig in rigs.values():
            rig.close()
        conn.close()
        redis.stop()
        results["machine"]["loadavg_end"] = os.getloadavg()[0]
        results["seconds"] = time.monotonic() - started
        if args.json:
            with open(args.json, "w") as f:
                json.dump(results, f, indent=1)
        if failed or args.keep:
            rb.log(f"logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
            shutil.rmtree(redis.dir, ignore_errors=True)
    print(markdown(results))
    rb.log(f"took {results['seconds']:.0f} s")


if __name__ == "__main__":
    main()
