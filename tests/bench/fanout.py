#!/usr/bin/python3
"""Fan-out: one relay on 16 shards publishing to 1, 10 and 100 bench-subscriber processes (run_bench.py's rig).

For each subscriber count (the subscribers are added to the same relay: 1, then 9 more, then 90 more):
  * paced: 300 B events at 10 000 events/s (the simulator's 1 ms timer), 1 s of warm-up then 10 s measured.
    Each subscriber measures the latency from the simulator's write (d.send_ns) to its receive, both
    CLOCK_MONOTONIC; the table gives the median and the worst of the subscribers' p50, p99 and p99.9.
  * flood: 2 000 000 / N events (at most 200 000) at rate 0.
For both: the relay's CPU (all threads, /proc) per event and per event per subscriber, the subscribers' CPU in
all, and what each subscriber lost (publish.sndhwm is set above the largest flood, so PUB does not drop; a
subscriber that falls behind queues in the relay instead, and any loss shows).

    /usr/bin/python3 tests/bench/fanout.py --bin-dir build-bench/bin [--counts 1 10 100] [--json FILE]
"""
import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_bench as rb  # noqa: E402

SHARDS = 16
SIZE = 300


def add_subscribers(bins, rig, subs, count, per_process=1):
    """Starts subscriber processes until they hold `count` SUB sockets (`per_process` each; the last one may hold
    fewer), and probes through the relay until every socket has received."""
    new = []
    while sockets_of(subs) < count:
        k = min(per_process, count - sockets_of(subs))
        sub = rb.LineProcess([bins["sub"], rig.endpoint, "--topic", rb.EVENT_TOPIC, "--sockets", str(k)],
                             rig.workdir, f"sub{len(subs)}", stdin=True)
        sub.sockets = k
        subs.append(sub)
        new.append(sub)
    deadline = time.monotonic() + 60
    while new:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(new)} subscriber processes never received a probe through the relay")
        rig.sim.post("/_sim/send", {"shard": 0, "t": "PROBE", "d": {}})
        time.sleep(0.1)
        for sub in list(new):
            sub.send("seen")
            if sub.read_json(10)["seen"] > 0:
                new.remove(sub)


def sockets_of(subs):
    return sum(sub.sockets for sub in subs)


def start_measurement(subs, command):
    """Sends `command` to every subscriber and waits until each has read it: a subscriber that the events reach
    first (100 processes share two cores) would otherwise ignore them, and they would count as lost."""
    for sub in subs:
        sub.send(command)
        sub.send("seen")
    for sub in subs:
        sub.read_json(30)


def collect(subs, timeout):
    """One report per SUB socket (a process with several sockets answers with all of them at once)."""
    deadline = time.monotonic() + timeout
    reports = []
    for sub in subs:
        answer = sub.read_json(max(1.0, deadline - time.monotonic()))
        reports.extend(answer["reports"] if "reports" in answer else [answer])
    return reports


def summary(reports, events, relay_cpu, n):
    lost = [r["want"] - r["count"] for r in reports]
    sub_cpu = sum(r["user_s"] + r["sys_s"] for r in reports)
    relay_us = relay_cpu["user"] + relay_cpu["sys"]
    out = {"subscribers": n, "events": events, "deliveries": sum(r["count"] for r in reports),
           "lost_total": sum(lost), "subscribers_with_loss": sum(1 for x in lost if x),
           "relay_cpu_us": relay_cpu, "relay_us_per_event": relay_us, "relay_us_per_delivery": relay_us / n,
           "sub_cpu_s": sub_cpu, "sub_us_per_event": sub_cpu / max(events, 1) * 1e6,
           "slowest_eps": min(rb.events_per_second(r) for r in reports),
           "span_s": (max(r["last_ns"] for r in reports) - min(r["first_ns"] for r in reports)) / 1e9}
    for key in ("p50_us", "p99_us", "p999_us", "max_us"):
        values = [r[key] for r in reports]
        out[key] = {"median": statistics.median(values), "worst": max(values)}
    return out


def generated(sim):
    return sum(shard["generated"] for shard in sim.request("GET", "/_sim/state")["shards"])


def paced(rig, subs, rate, warmup_s, seconds):
    """The simulator sends skip + count events at `rate` and stops; the relay's CPU is counted until every
    subscriber has had its count, so a backlog the relay still sends after the simulator stopped is in it."""
    skip, count = int(rate * warmup_s), int(rate * seconds)
    start_measurement(subs, f"expect {count} 10 {skip}")
    generated0 = generated(rig.sim)
    relay0, t0 = rig.relay.stats.snapshot(), time.monotonic()
    rig.sim.post("/_sim/config", {"rate": rate, "event_size": SIZE})
    try:
        rb.wait_for(lambda: generated(rig.sim) - generated0 >= skip + count, warmup_s + seconds + 60,
                    "the paced events", 0.02)
    finally:
        rig.sim.post("/_sim/config", {"rate": 0})
    sent_s = time.monotonic() - t0
    reports = collect(subs, 600)
    relay1, t1 = rig.relay.stats.snapshot(), time.monotonic()
    rig.relay.check_alive()
    events = generated(rig.sim) - generated0
    out = summary(reports, count, rb.cpu_per_event(relay0, relay1, events), sockets_of(subs))
    # the subscribers' CPU is counted over their `count` measured events; the relay's over all events sent
    out.update({"rate": rate, "sent": events, "sent_s": sent_s, "done_s": t1 - t0,
                "relay_cores": (sum(relay1["cpu"]) - sum(relay0["cpu"])) / (t1 - t0),
                "relay_cores_at_rate": out["relay_us_per_event"] * rate / 1e6,
                "achieved": min(rb.events_per_second(r) for r in reports)})
    return out


def flood(rig, subs, events):
    per_shard = max(1, events // SHARDS)
    total = per_shard * SHARDS
    start_measurement(subs, f"expect {total} 10")
    relay0 = rig.relay.stats.snapshot()
    rig.sim.post("/_sim/generate", {"count": per_shard, "rate": 0, "size": SIZE})
    reports = collect(subs, 600)
    relay1 = rig.relay.stats.snapshot()
    rig.relay.check_alive()
    out = summary(reports, total, rb.cpu_per_event(relay0, relay1, total), sockets_of(subs))
    out["hwm_kb"] = rig.relay.stats.memory_kb()[1]
    return out


def markdown(results):
    out = [f"16 shards, {SIZE} B events, relay publish.sndhwm {results['sndhwm']}; load average "
           f"{results['loadavg_start']:.2f} at the start, {results['loadavg_end']:.2f} at the end.", ""]
    out.append(f"Paced at {results['rate']:,} events/s ({results['seconds']:g} s after {results['warmup_s']:g} s of "
               "warm-up); latency from the simulator's write to each subscriber's receive, median / worst over the "
               "subscribers:")
    out.append("")
    out.append("| subscribers | slowest got events/s | all received after s | p50 µs | p99 µs | p99.9 µs "
               "| max µs | relay cores (CPU / time until all received) | relay µs per event "
               "| per event per subscriber | subscribers' CPU µs per event (all) | lost |")
    out.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    fmt = lambda v: f"{v['median']:.0f} / {v['worst']:.0f}"  # noqa: E731
    for r in results["paced"]:
        out.append(f"| {r['subscribers']} | {r['achieved']:,.0f} | {r['done_s']:.1f} | {fmt(r['p50_us'])} "
                   f"| {fmt(r['p99_us'])} | {fmt(r['p999_us'])} | {fmt(r['max_us'])} | {r['relay_cores']:.2f} "
                   f"| {r['relay_us_per_event']:.2f} | {r['relay_us_per_delivery']:.2f} | {r['sub_us_per_event']:.1f} "
                   f"| {r['lost_total']} ({r['subscribers_with_loss']} subscribers) |")
    if results["flood"]:
        out += ["", "Flood (rate 0):", ""]
        out.append("| subscribers | events | slowest subscriber events/s | deliveries/s | relay µs per event "
                   "| per event per subscriber | of which event loop / ZeroMQ I/O / other (per event) "
                   "| subscribers' CPU µs per event (all) | relay peak RSS MiB | lost |")
        out.append("|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|")
        for r in results["flood"]:
            c = r["relay_cpu_us"]
            out.append(f"| {r['subscribers']} | {r['events']:,} | {r['slowest_eps']:,.0f} "
                       f"| {r['deliveries'] / r['span_s']:,.0f} | {r['relay_us_per_event']:.2f} "
                       f"| {r['relay_us_per_delivery']:.2f} | {c['main']:.2f} / {c['zmq_io']:.2f} / {c['other']:.2f} "
                       f"| {r['sub_us_per_event']:.1f} | {r['hwm_kb'] / 1024:.0f} "
                       f"| {r['lost_total']} ({r['subscribers_with_loss']} subscribers) |")
    last = max(results["paced"], key=lambda r: r["subscribers"], default=None)
    if last:
        out += ["", "Targets:", ""]
        ok = last["p99_us"]["worst"] < 5000
        out.append(f"- {'met' if ok else '**missed**'}: p99 < 5 ms at {last['subscribers']} subscribers and "
                   f"{results['rate']:,} events/s (worst subscriber {last['p99_us']['worst']:.0f} µs, median "
                   f"{last['p99_us']['median']:.0f} µs)")
        ok = last["relay_cores"] < 1 and last["relay_cores_at_rate"] < 1
        out.append(f"- {'met' if ok else '**missed**'}: relay under one core ({last['relay_cores']:.2f} over the "
                   f"{last['done_s']:.1f} s until every subscriber had its events; its CPU per event × "
                   f"{results['rate']:,}/s is {last['relay_cores_at_rate']:.2f})")
        out.append(f"- {'met' if last['lost_total'] == 0 else '**missed**'}: no loss ({last['lost_total']})")
    return "\n".join(out)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin-dir", default=os.path.join(here, "..", "..", "build-bench", "bin"))
    parser.add_argument("--counts", type=int, nargs="+", default=[1, 10, 100], help="subscriber counts, rising")
    parser.add_argument("--rate", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--deliveries", type=int, default=2_000_000,
                        help="a flood has this many events in all subscribers together (at most 200 000 events)")
    parser.add_argument("--sndhwm", type=int, default=1_000_000)
    parser.add_argument("--no-flood", action="store_true")
    parser.add_argument("--json", help="write every number here")
    parser.add_argument("--keep", action="store_true", help="keep the working directory with the logs")
    parser.add_argument("--transport", choices=["tcp", "ipc"], default="tcp",
                        help="the subscribers' transport: tcp:// on loopback (default) or an ipc:// Unix socket")
    parser.add_argument("--per-process", type=int, default=1,
                        help="SUB sockets per bench-subscriber process (default 1: one process per subscriber); "
                             "each socket is its own connection, so the relay sees as many subscribers")
    args = parser.parse_args()
    rb.TRANSPORT["name"] = args.transport
    bins = rb.binaries(args.bin_dir)
    workdir = tempfile.mkdtemp(prefix="qq-relay-fanout-")
    results = {"per_process": args.per_process, "transport": args.transport, "sndhwm": args.sndhwm, "rate": args.rate, "seconds": args.seconds, "warmup_s": args.warmup,
               "machine": rb.machine(), "loadavg_start": os.getloadavg()[0], "paced": [], "flood": []}
    started = time.monotonic()
    rig, subs = None, []
    try:
        rig = rb.RelayRig(bins, workdir, SHARDS, name="relayfan", sndhwm=args.sndhwm)
        for n in sorted(args.counts):
            add_subscribers(bins, rig, subs, n, args.per_process)
            rb.log(f"{n} subscriber(s): load average {os.getloadavg()[0]:.2f}")
            p = paced(rig, subs, args.rate, args.warmup, args.seconds)
            results["paced"].append(p)
            rb.log(f"  paced: p50 {p['p50_us']} p99 {p['p99_us']} relay {p['relay_cores']:.2f} cores, "
                   f"lost {p['lost_total']}")
            if not args.no_flood:
                f = flood(rig, subs, min(200_000, args.deliveries // n))
                results["flood"].append(f)
                rb.log(f"  flood: slowest {f['slowest_eps']:,.0f}/s, relay {f['relay_us_per_event']:.2f} µs/event, "
                       f"lost {f['lost_total']}")
    finally:
        for sub in subs:
            sub.close()
        if rig is not None:
            rig.close()
        results["loadavg_end"] = os.getloadavg()[0]
        results["seconds_total"] = time.monotonic() - started
        if args.json:
            with open(args.json, "w") as f:
                json.dump(results, f, indent=1)
        if args.keep:
            rb.log(f"logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(markdown(results))
    rb.log(f"took {results['seconds_total']:.0f} s")


if __name__ == "__main__":
    main()
