#!/usr/bin/python3
"""The soak run's verdict (tests/soak, docs/soak.md) on journals made up for the purpose: a complete stream
passes, and each kind of loss, repeat and disorder is reported; numbers sent to a session invalidated with op 9
are excused only when no subscriber has them; slopes are fitted per relay process. Seconds, no processes."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "soak"))

import soak_check  # noqa: E402
import soak_samples  # noqa: E402
from harness import Checks, expect, tear_down, workdir  # noqa: E402


def line(content, topic="C2C_MESSAGE_CREATE"):
    body = json.dumps({"op": 0, "s": 1, "t": topic, "id": "x", "d": {"content": content}}, separators=(",", ":"))
    return json.dumps({"relay_seq": 1, "topic": topic, "source": "gateway", "event_id": "x", "body": body}) + "\n"


def main():
    checks = Checks()
    tmp = workdir()

    def verdict(shard0, shard1=range(1, 4), hooks=(1, 2), windows=None, others=None, cut=False):
        path = os.path.join(tmp, "journal.jsonl")
        with open(path, "w") as f:
            f.write(line("probe", topic="PROBE"))
            for a, b in zip(list(shard0) + [None] * 9, list(shard1) + [None] * 9):
                if a is not None:
                    f.write(line(f"event 0-{a} xxxx"))
                if b is not None:
                    f.write(line(f"event 1-{b} xxxx"))
            for n in hooks:
                f.write(line(f"event webhook-{n} xxxx"))
            if cut:
                f.write(line("event 0-99 xxxx")[:40])
        streams = soak_check.read_journal(path)
        anyone = {0: set(streams.get(0, [])) | set(others or ()), 1: set(streams.get(1, []))}
        return soak_check.check_subscriber(streams, {0: 5, 1: 3}, windows or {}, {1, 2}, {1, 2, 3}, anyone)

    def complete():
        problems, counts = verdict(range(1, 6), cut=True)
        expect(problems == [], problems)
        expect(counts["events"] == 8 and counts["webhooks"] == 2, counts)
    checks.run("every number once and in order, a cut last line ignored: no problem", complete)

    def each_fault_reported():
        problems, _ = verdict([1, 2, 4, 5])
        expect(problems == ["shard 0: 1 missing, first ['3']"], problems)
        problems, counts = verdict([1, 2, 3, 3, 4, 5])
        expect(problems == ["1 duplicates"] and counts["duplicates"] == 1, problems)
        problems, _ = verdict([1, 3, 2, 4, 5])
        expect(problems == ["1 out of order"], problems)
        problems, _ = verdict(range(1, 6), hooks=(1,))
        expect(problems == ["1 webhooks answered 200 but missing: ['2']"], problems)
        problems, _ = verdict(range(1, 6), hooks=(1, 2, 2, 3))
        expect(problems == ["1 webhook duplicates"], problems)
        problems, _ = verdict(range(1, 7))
        expect(problems == ["shard 0: numbers never generated: [6]"], problems)
    checks.run("a missing number, a repeat, disorder, a lost or repeated webhook are each reported", each_fault_reported)

    def op9_windows():
        problems, counts = verdict([1, 2, 5], windows={0: [(2, 4)]})
        expect(problems == [] and counts["missing_allowed"] == 2, (problems, counts))
        problems, _ = verdict([1, 2, 5], windows={0: [(2, 4)]}, others={3})
        expect(problems == ["shard 0: 1 missing, first ['3']"], problems)
        problems, _ = verdict([1, 2, 5], windows={0: [(3, 4)]})
        expect(problems == ["shard 0: 1 missing, first ['3']"], problems)
    checks.run("an op 9 window excuses only numbers inside it that no subscriber has", op9_windows)

    def slopes():
        rows = [{"pid": 1 if t < 50 else 2, "t_s": t} for t in range(0, 100, 10)]
        expect([(pid, start, len(seg)) for pid, start, seg in soak_samples.segments(rows)] == [(1, 0, 5), (2, 50, 5)],
               "segments by pid")
        expect(abs(soak_samples.slope([(t, 3 * t + 7) for t in range(10)]) - 3) < 1e-9, "slope of a line")
        expect(soak_samples.slope([(0, 1), (1, 2)]) is None, "two points are not fitted")
    checks.run("slopes are least squares, fitted per relay process", slopes)

    tear_down(checks, tmp)
    checks.finish()


if __name__ == "__main__":
    main()
