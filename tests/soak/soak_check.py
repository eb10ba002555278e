"""The soak run's delivery check: what each subscriber wrote (its journal, one JSON line per message it handled
after its own gap repair and de-duplication) against what the simulator generated."""
import json
import re
from array import array

# Generated events say which shard and which number they are: "content":"event 3-1742 xxx..." (gateway, shard 3,
# the shard's 1742nd event) or "event webhook-17 ..." (the sim's 17th generated webhook).
CONTENT = re.compile(r'"content":"event (\d+|webhook)-(\d+)')


def read_journal(path):
    """{shard or "webhook": array of n in the order handled}. A last line cut short (a killed client) is skipped."""
    streams = {}
    with open(path, "rb") as f:
        for line in f:  # line by line: an hour's journal is a few GiB
            if not line.endswith(b"\n"):
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("topic") != "C2C_MESSAGE_CREATE":
                continue
            match = CONTENT.search(record["body"])
            if not match:
                continue
            key = "webhook" if match.group(1) == "webhook" else int(match.group(1))
            # array: an hour of five journals is 18 million numbers, too many for lists of Python ints.
            streams.setdefault(key, array("q")).append(int(match.group(2)))
    return streams


def in_windows(n, windows):
    return any(low < n <= high for low, high in windows)


def check_subscriber(streams, generated, lost_windows, webhooks_accepted, webhooks_sent, published_by_anyone):
    """Problems (strings) of one subscriber's journal, and its counts.

    generated: {shard: the sim's count of generated events};
    lost_windows: {shard: [(low, high)]}: numbers in low+1..high may be absent from every subscriber (the relay
    never received them: sent to a session the simulator had invalidated with op 9);
    webhooks_accepted: webhook numbers the relay answered 200; webhooks_sent: every number posted;
    published_by_anyone: {shard: set of numbers some subscriber has}."""
    problems = []
    counts = {"events": 0, "duplicates": 0, "out_of_order": 0, "missing": 0, "missing_allowed": 0}
    for shard, total in sorted(generated.items()):
        got = streams.get(shard, [])
        counts["events"] += len(got)
        seen = set()
        previous = 0
        for n in got:
            if n in seen:
                counts["duplicates"] += 1
            elif n < previous:
                counts["out_of_order"] += 1
            seen.add(n)
            previous = max(previous, n)
        unknown = [n for n in seen if n > total or n < 1]
        if unknown:
            problems.append(f"shard {shard}: numbers never generated: {sorted(unknown)[:5]}")
        missing = [n for n in range(1, total + 1) if n not in seen]
        allowed = [n for n in missing if in_windows(n, lost_windows.get(shard, []))
                   and n not in published_by_anyone.get(shard, set())]
        counts["missing_allowed"] += len(allowed)
        real = sorted(set(missing) - set(allowed))
        counts["missing"] += len(real)
        if real:
            problems.append(f"shard {shard}: {len(real)} missing, first {ranges(real)[:5]}")
    if counts["duplicates"]:
        problems.append(f"{counts['duplicates']} duplicates")
    if counts["out_of_order"]:
        problems.append(f"{counts['out_of_order']} out of order")
    hooks = streams.get("webhook", [])
    counts["webhooks"] = len(hooks)
    if len(hooks) != len(set(hooks)):
        problems.append(f"{len(hooks) - len(set(hooks))} webhook duplicates")
    lost_hooks = sorted(webhooks_accepted - set(hooks))
    if lost_hooks:
        problems.append(f"{len(lost_hooks)} webhooks answered 200 but missing: {ranges(lost_hooks)[:5]}")
    foreign = sorted(set(hooks) - webhooks_sent)
    if foreign:
        problems.append(f"webhooks never sent: {foreign[:5]}")
    return problems, counts


def ranges(numbers):
    """[1, 2, 3, 7] -> ["1..3", "7"]"""
    out = []
    for n in sorted(numbers):
        if out and out[-1][1] == n - 1:
            out[-1][1] = n
        else:
            out.append([n, n])
    return [f"{a}..{b}" if a != b else str(a) for a, b in out]


def webhook_outcomes(results):
    """From /_sim/webhook/results: (numbers the relay answered 200, every number posted)."""
    accepted, sent = set(), set()
    for result in results:
        match = CONTENT.search(result.get("body") or "")
        if not match or match.group(1) != "webhook":
            continue
        n = int(match.group(2))
        sent.add(n)
        if result.get("status") == 200:
            accepted.add(n)
    return accepted, sent
