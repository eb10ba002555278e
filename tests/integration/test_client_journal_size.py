#!/usr/bin/python3
"""A client restarted with a journal of more than 512 MiB (about half an hour of a 1000 events/s stream) still
starts, finds its position and remembers the event ids of its last lines. The Node.js client read the whole file
as one string, which V8 refuses past 512 MiB (ERR_STRING_TOO_LONG): found by the soak run (docs/soak.md), where
the Node subscriber is killed and restarted late in a long run. The Python client is checked the same way, and the
C++ client, which held the whole journal in memory while it read it, for its peak memory.

Runs the `node` found on PATH; clients/node/node_modules comes from scripts/install-deps.sh (npm ci)."""
import json
import os
import shutil
import subprocess
import sys

from harness import Checks, expect, tear_down, wait_for, workdir

SOURCE = os.environ.get("QQ_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
NODE = shutil.which("node")
CPP_CLIENT = os.environ.get("QQ_CPP_CLIENT_BIN", os.path.join(SOURCE, "build", "bin", "relay-subscriber-cpp"))
SIZE = 520 * 1024 * 1024  # past V8's longest string, 2^29 - 24 characters

LOAD_NODE = """
const { ClusterJournal, Journal } = await import(process.argv[1]);
const cluster = new ClusterJournal(process.argv[2]);
const plain = new Journal(process.argv[2]);
console.log(JSON.stringify({last: plain.last, positions: [...cluster.positions], repeat: !cluster.recent.add("E-last"),
                            fresh: cluster.recent.add("E-new")}));
"""

LOAD_PYTHON = """
import json, sys
sys.path.insert(0, sys.argv[1])
from qq_gateway_relay_client import ClusterJournal, Journal
cluster = ClusterJournal(sys.argv[2])
plain = Journal(sys.argv[2])
print(json.dumps({"last": plain.last, "positions": sorted(cluster.positions.items()),
                  "repeat": not cluster.recent.add("E-last"), "fresh": cluster.recent.add("E-new")}))
"""


# The same sequence of adds to a RecentIds of capacity 3 (and one of capacity 0) in each client: what add() said.
RECENT_SEQUENCE = ["a", "b", "c", "a", "d", "a", "b", "e", "c", "e", "b", "f", "d"]
RECENT_EXPECTED = [True, True, True, False, True, True, True, True, True, False, False, True, True]

RECENT_NODE = """
const { RecentIds } = await import(process.argv[1]);
const sequence = JSON.parse(process.argv[2]);
const three = new RecentIds(3);
const none = new RecentIds(0);
console.log(JSON.stringify({ three: sequence.map((id) => three.add(id)), none: sequence.map((id) => none.add(id)) }));
"""

RECENT_PYTHON = """
import json, sys
sys.path.insert(0, sys.argv[1])
from qq_gateway_relay_client import RecentIds
sequence = json.loads(sys.argv[2])
three, none = RecentIds(3), RecentIds(0)
print(json.dumps({"three": [three.add(i) for i in sequence], "none": [none.add(i) for i in sequence]}))
"""


def write_journal(path):
    """SIZE bytes of journal lines of one relay, the last complete one relay_seq 7 with event id E-last, then a
    line cut short as a kill leaves it."""
    line = json.dumps({"relay_seq": 1, "topic": "C2C_MESSAGE_CREATE", "source": "gateway", "event_id": None,
                       "body": "x" * 4000, "relay": "tcp://127.0.0.1:5555"}, ensure_ascii=False) + "\n"
    block = (line * 256).encode()
    with open(path, "wb") as f:
        for _ in range(SIZE // len(block) + 1):
            f.write(block)
        f.write((json.dumps({"relay_seq": 7, "topic": "T", "source": "gateway", "event_id": "E-last", "body": "{}",
                             "relay": "tcp://127.0.0.1:5555"}) + "\n").encode())
        f.write(b'{"relay_seq": 8, "topic": "C2C_MES')


def main():
    checks = Checks()
    tmp = workdir()
    path = os.path.join(tmp, "journal.jsonl")
    expected = {"last": 7, "positions": [["tcp://127.0.0.1:5555", 7]], "repeat": True, "fresh": True}

    def load(command):
        write_journal(path)
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        expect(result.returncode == 0, f"exit {result.returncode}: {result.stderr[-600:]}")
        expect(json.loads(result.stdout) == expected, result.stdout)
        complete = os.path.getsize(path)
        expect(complete > SIZE and open(path, "rb").read()[complete - 1:] == b"\n", "the cut line was not removed")

    def node():
        expect(NODE and os.path.isdir(os.path.join(SOURCE, "clients", "node", "node_modules", "zeromq")),
               f"node: {NODE}; run scripts/install-deps.sh")
        load([NODE, "--input-type=module", "-e", LOAD_NODE, os.path.join(SOURCE, "clients", "node", "index.mjs"),
              path])
    checks.run("the Node.js client starts from a journal of more than 512 MiB", node)

    checks.run("the Python client starts from a journal of more than 512 MiB",
               lambda: load([sys.executable, "-c", LOAD_PYTHON, os.path.join(SOURCE, "clients", "python"), path]))

    def cpp_reads_line_by_line():
        expect(os.path.exists(CPP_CLIENT), f"{CPP_CLIENT}: build relay-subscriber-cpp")
        write_journal(path)
        cut = os.path.getsize(path)
        # No relay there: the client reads its journal, removes the cut line, then waits for a catch-up answer.
        proc = subprocess.Popen([CPP_CLIENT, "--relay", "tcp://127.0.0.1:5555,tcp://127.0.0.1:5556",
                                 "--journal", path], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_for(lambda: os.path.getsize(path) < cut, 120, "the journal read (its cut line removed)")
            # The peak since exec (VmHWM), read while it waits for an answer (5 s); getrusage's ru_maxrss would
            # count this process's pages the child shared between fork and exec.
            with open(f"/proc/{proc.pid}/status") as f:
                peak_mib = int(next(l for l in f if l.startswith("VmHWM:")).split()[1]) / 1024
        finally:
            proc.kill()
            proc.wait()
        # It held the whole file in memory (more than 520 MiB) until it read in pieces.
        expect(peak_mib < 64, f"peak RSS {peak_mib:.0f} MiB while reading a {SIZE >> 20} MiB journal")
        expect(open(path, "rb").read()[os.path.getsize(path) - 1:] == b"\n", "the cut line was not removed")
    checks.run("the C++ client reads a journal of more than 512 MiB in pieces (peak RSS under 64 MiB)",
               cpp_reads_line_by_line)
    os.unlink(path)

    def recent_ids(command):
        result = subprocess.run([*command, json.dumps(RECENT_SEQUENCE)], capture_output=True, text=True, timeout=60)
        expect(result.returncode == 0, f"exit {result.returncode}: {result.stderr[-600:]}")
        expect(json.loads(result.stdout) == {"three": RECENT_EXPECTED, "none": [True] * len(RECENT_SEQUENCE)},
               result.stdout)
    # The Node.js RecentIds keeps its order in a ring (a Set's oldest entry cost 12 us to find when full).
    checks.run("RecentIds forgets the oldest id first, in the Node.js client",
               lambda: recent_ids([NODE, "--input-type=module", "-e", RECENT_NODE,
                                   os.path.join(SOURCE, "clients", "node", "index.mjs")]))
    checks.run("RecentIds forgets the oldest id first, in the Python client",
               lambda: recent_ids([sys.executable, "-c", RECENT_PYTHON, os.path.join(SOURCE, "clients", "python")]))
    tear_down(checks, tmp)
    checks.finish()


if __name__ == "__main__":
    main()
