#!/usr/bin/python3
"""Instructions the relay spends per event, by stage, counted by valgrind's callgrind: unlike seconds, the counts
repeat whatever else the machine is doing, so a change to the hot path can be compared on a busy machine.

Runs qq-gateway-sim (one shard) and qq-gateway-relay under callgrind, floods N generated events of SIZE bytes,
stops the relay when it has published them all, and prints the inclusive instructions per event of the event
loop and of each stage it calls (the strict JSON check, the decoder, the publish path). The counters are zeroed
when the shard is READY and dumped once every event is published, so the counts are the flood's alone (start-up
left out), and the first line counts every thread of the relay: the event loop, ZeroMQ's I/O thread, the writers.

    /usr/bin/python3 tests/bench/instructions_per_event.py --bin-dir build-bench/bin [--events 20000] [--size 300]

Build with -DCMAKE_BUILD_TYPE=RelWithDebInfo so that callgrind can name the functions.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))

STAGES = [
    ("all threads, during the flood", r"PROGRAM TOTALS"),
    ("event loop (lws_service)", r"lws_service \["),
    ("one message (Shard::on_message)", r"GatewayClient::Shard::on_message"),
    ("strict JSON check (util::find_json_fault)", r"util::find_json_fault"),
    ("decode (FrameDecoder::decode_padded)", r"FrameDecoder::decode_padded"),
    ("publish (RelayApp::on_dispatch)", r"RelayApp::on_dispatch"),
    ("UTF-8 check of text messages (util::is_valid_utf8)", r"util::is_valid_utf8"),
]


def callgrind_control(action, pid):
    subprocess.run(["callgrind_control", action, str(pid)], check=True, capture_output=True, timeout=120)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin-dir", required=True)
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--size", type=int, default=300)
    args = parser.parse_args()
    bin_dir = os.path.abspath(args.bin_dir)
    os.environ["QQ_RELAY_BIN"] = os.path.join(bin_dir, "qq-gateway-relay")
    os.environ["QQ_SIM_BIN"] = os.path.join(bin_dir, "qq-gateway-sim")
    from harness import Sim, relay_config, wait_for  # reads the binaries' paths from the environment
    from metrics_client import metrics
    from webhook_client import free_port

    tmp = tempfile.mkdtemp(prefix="qq-relay-callgrind-")
    sim = Sim(tmp, "--shards", "1")
    port = free_port()
    config = relay_config(sim, f"ipc://{tmp}/pub.sock", f"{tmp}/state").replace('level = "debug"', 'level = "warn"')
    with open(f"{tmp}/relay.toml", "w") as f:
        f.write(config + f'[metrics]\nlisten = "127.0.0.1:{port}"\n')
    out = f"{tmp}/callgrind.out"
    relay = subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                              os.environ["QQ_RELAY_BIN"], "--config", f"{tmp}/relay.toml"],
                             stdout=open(f"{tmp}/relay.log", "w"), stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: any(s["connected"] and s["session_id"] for s in sim.get("/_sim/state")["shards"]), 120,
                 "the shard READY under callgrind")

        def published():
            try:
                return metrics(port).get(("qq_relay_messages_published_total", ""), 0)
            except Exception:  # the relay under callgrind may be slow to answer
                return 0
        before = published()
        callgrind_control("--zero", relay.pid)
        sim.post("/_sim/generate", {"shard": 0, "count": args.events, "size": args.size})
        wait_for(lambda: published() >= before + args.events, 900, "every event published")
        callgrind_control("--dump", relay.pid)
    finally:
        relay.terminate()
        relay.wait(300)
        sim.stop()
    dumps = sorted(f for f in os.listdir(tmp) if f.startswith("callgrind.out."))
    out = os.path.join(tmp, dumps[0])  # the first dump: from the zero to the last event published
    report = subprocess.run(["callgrind_annotate", "--inclusive=yes", out], capture_output=True, text=True,
                            check=True).stdout
    print(f"{args.events} events of {args.size} B, instructions per event (inclusive):")
    for name, pattern in STAGES:
        counts = [int(m.group(1).replace(",", "")) for m in
                  re.finditer(r"^\s*([\d,]+) \([^)]*\)\s+\S*" + pattern, report, re.M)]
        print(f"  {name:55} {max(counts) / args.events:10.0f}" if counts else f"  {name:55} {'-':>10}")
    print(f"(callgrind output: {out})")


if __name__ == "__main__":
    main()
