"""What the subscriber-client tests share: reading a client's journal, and CURVE keys from `keygen`."""
import json
import os
import signal
import subprocess
import time

import zmq

from harness import RELAY_BIN, expect, wait_for


def journal_lines(path):
    """The complete lines of a client's journal (a line cut short by a kill is left out)."""
    if not os.path.exists(path):
        return []
    with open(path, "rb") as f:
        data = f.read()
    return [json.loads(line) for line in data[: data.rfind(b"\n") + 1].splitlines()]


def generated_numbers(lines):
    """The seq_no of every generated event in a journal, in order: 1, 2, 3... when nothing is lost or repeated."""
    return [json.loads(l["body"])["d"]["seq_no"] for l in lines if l["topic"] == "C2C_MESSAGE_CREATE"]


def keygen(prefix):
    """(public, secret) Z85 keys written by `qq-gateway-relay keygen PREFIX`."""
    result = subprocess.run([RELAY_BIN, "keygen", prefix], capture_output=True, text=True)
    expect(result.returncode == 0, f"keygen failed: {result.stderr}")
    with open(prefix + ".pub") as f:
        public = f.read().strip()
    with open(prefix + ".key") as f:
        secret = [line for line in f.read().splitlines() if not line.startswith("#")][0]
    return public, secret


def wait_started(sim, journal, timeout=20):
    """Sends START events until the client has journaled one: a client that has just started (or a relay that has
    just restarted) may not have joined yet, and a single event sent too early would be lost to it."""
    def started():
        sim.post("/_sim/send", {"shard": 0, "t": "START", "d": {}})
        try:  # each START gets 0.3 s to show up before the next one is sent
            return wait_for(lambda: journal_lines(journal), 0.3, "a START")
        except AssertionError:
            return []
    wait_for(started, timeout, f"a client to journal its first event in {journal}")


def dash_keypair():
    """A client key pair whose public key begins with '-' (a Z85 digit), so that every run checks that the
    clients take such a key on their command line rather than mistaking it for an option."""
    while True:
        public, secret = zmq.curve_keypair()
        if public.startswith(b"-"):
            return public.decode(), secret.decode()


def generated_on_shard_0(sim):
    """How many events the simulator has generated on shard 0 (the client tests run one shard)."""
    return sim.get("/_sim/state")["shards"][0]["generated"]


def client_errors(journal):
    """What the client wrote to JOURNAL.err."""
    with open(journal + ".err") as f:
        return f.read()


def expect_exactly_once(journal, first, count):
    """The journal holds generated events first..first+count-1, each once and in order, with gapless relay_seq."""
    lines = journal_lines(journal)
    numbers = generated_numbers(lines)
    expect(numbers == list(range(first, first + count)), f"not exactly once: {len(numbers)} lines, "
           f"{len(set(numbers))} distinct, first {numbers[:3]}, last {numbers[-3:]}")
    seqs = [l["relay_seq"] for l in lines]
    expect(seqs == list(range(seqs[0], seqs[0] + len(seqs))), "relay_seq has holes in the journal")


def flood_a_slow_client(sim, journal, count=3000):
    """For a client started with a small RCVHWM and a delay per event: `count` events as fast as the relay
    publishes them, so that PUB drops some for this client, then an END. Every event must still reach the
    journal, through catch-up, and the client must have seen the gap (or nothing was tested)."""
    base = generated_on_shard_0(sim)
    sim.post("/_sim/generate", {"count": count, "rate": 0})
    wait_for(lambda: generated_on_shard_0(sim) == base + count, 30, f"{count} more generated")
    # Part of the scenario, not a wait for a result: the slow client drains its full queue for a moment, so that
    # PUB does not drop the END too (a client that never sees a later message cannot notice the gap).
    time.sleep(0.5)
    sim.post("/_sim/send", {"shard": 0, "t": "END", "d": {}})
    wait_for(lambda: sum(l["topic"] == "END" for l in journal_lines(journal)) == 1, 60, "the slow END")
    numbers = generated_numbers(journal_lines(journal))
    expect(numbers == list(range(base + 1, base + count + 1)), f"{len(numbers)} of {count}, first {numbers[:3]}")
    err = client_errors(journal)
    expect("lost for good" not in err, err)
    expect("gap: relay_seq" in err, "the slow client never fell behind, so nothing was tested")


def kill_mid_stream_and_restart(sim, journal, start, while_down=None, count=3000):
    """A client (`start(journal)` returns its process) is killed with SIGKILL a sixth of the way into a stream of
    `count` events and started again while the stream goes on; `while_down()` runs in between. Its journal
    must end with every event exactly once. Returns the restarted process."""
    first = start(journal)
    wait_started(sim, journal)
    sim.post("/_sim/generate", {"count": count, "rate": 1000})
    wait_for(lambda: len(generated_numbers(journal_lines(journal))) > count // 6, 20, "the client to get going")
    first.send_signal(signal.SIGKILL)
    first.wait()
    if while_down is not None:
        while_down()
    # Events keep coming while it is down: a sixth of the stream more.
    down_at = generated_on_shard_0(sim)
    wait_for(lambda: generated_on_shard_0(sim) >= min(count, down_at + count // 6), 20, "events while it is down")
    second = start(journal)
    wait_for(lambda: generated_on_shard_0(sim) == count, 20, f"all {count} generated")
    # A last event after the stream (on the same shard, so after it), so that a client which missed the tail
    # notices the gap.
    sim.post("/_sim/send", {"shard": 0, "t": "END", "d": {}})
    wait_for(lambda: any(l["topic"] == "END" for l in journal_lines(journal)), 20, "the END marker")
    expect_exactly_once(journal, 1, count)
    return second
