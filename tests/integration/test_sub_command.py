#!/usr/bin/python3
"""`qq-gateway-relay sub`, the terminal subscriber, against a real relay (with replay endpoint and journal):
readable lines with the Chinese text, --json and --raw, -n with a topic filter, --since from the replay
endpoint then live with no gap or repeat, and a gap (the client frozen with SIGSTOP while a flood overflows
the relay's small send queue) filled with --replay."""
import json
import socket
import os
import signal
import subprocess
import time
import urllib.request

import zmq

from fake_cluster import FakeClusterRelay
from harness import RELAY_BIN, Checks, Relay, Sim, expect, relay_config, tear_down, wait_for, workdir

CHINESE = "你好，机器人！今天天气怎么样？"


class SubProcess:
    """`qq-gateway-relay sub ARGS`, its stdout and stderr in files."""

    def __init__(self, tmp, name, *args):
        self.out_path, self.err_path = f"{tmp}/{name}.out", f"{tmp}/{name}.err"
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen([RELAY_BIN, "sub", *args], stdout=out, stderr=err)

    def text(self):
        with open(self.out_path, encoding="utf-8") as f:
            return f.read()

    def lines(self):
        """The complete lines written so far."""
        return self.text().split("\n")[:-1]

    def objects(self):
        return [json.loads(line) for line in self.lines()]

    def errors(self):
        with open(self.err_path, encoding="utf-8") as f:
            return f.read()

    def stop(self):
        self.proc.send_signal(signal.SIGCONT)
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(5)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def contiguous(seqs):
    return seqs == list(range(seqs[0], seqs[0] + len(seqs)))


def main():
    checks = Checks()
    tmp = workdir()
    sim = Sim(tmp, "--shards", "1", "--heartbeat-interval", "2000")
    pub, replay = f"ipc://{tmp}/pub.sock", f"ipc://{tmp}/replay.sock"
    config = relay_config(sim, pub, f"{tmp}/state").replace(
        "[publish]\n", f'[publish]\nreplay_endpoint = "{replay}"\nsndhwm = 50\njournal = true\n')
    relay = Relay(tmp, config)
    relays = [relay]
    subs = []
    marks = iter(range(1_000_000))

    def sub(name, *args):
        process = SubProcess(tmp, name, "-e", pub, *args)
        subs.append(process)
        return process

    def send(t, d):
        """Sends an event whose d has its Chinese text as UTF-8, not as \\u escapes."""
        body = json.dumps({"shard": 0, "t": t, "d": d}, ensure_ascii=False).encode()
        request = urllib.request.Request(sim.base + "/_sim/send", data=body, method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())["sent"][0]["frame"]

    def message(content):
        return {"author": {"user_openid": "E4F4AEA33253A2797FB897C50B81D7ED"}, "content": content,
                "id": f"ROBOT1.0_{next(marks)}"}

    def send_until_seen(process, content, t="C2C_MESSAGE_CREATE", timeout=15):
        """PUB/SUB joins asynchronously: sends `content` until the client has printed it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            send(t, message(content))
            try:
                return wait_for(lambda: content in process.text(), 0.3, content)
            except AssertionError:
                pass
        raise AssertionError(f"the client never printed {content!r}; stderr: {process.errors()}")

    def replay_last_available():
        context = zmq.Context()
        req = context.socket(zmq.REQ)
        req.setsockopt(zmq.RCVTIMEO, 5000)
        req.setsockopt(zmq.LINGER, 0)
        req.connect(replay)
        req.send(b'{"since":0,"max":1}')
        header = json.loads(req.recv_multipart()[0])
        req.close()
        context.term()
        return header["last_available"] or 0

    class Closer:
        def close(self):
            for process in subs:
                process.close()

    try:
        wait_for(lambda: sim.get("/_sim/state")["shards"] and sim.get("/_sim/state")["shards"][0]["connected"], 30,
                 "the shard READY")

        def readable_lines():
            process = sub("lines")
            send_until_seen(process, CHINESE)
            line = next(line for line in process.lines() if CHINESE in line)
            expect(" C2C_MESSAGE_CREATE shard 0/1 E4F4AEA33253A2797FB897C50B81D7ED: " + CHINESE in line, line)
            # time, the relay's node (contract 2: the host name until cluster.node is configured), #relay_seq
            node, seq = line.split(" ")[1:3]
            expect(node == socket.gethostname() and seq.startswith("#") and seq[1:].isdigit(), line)
            expect("\x1b[" not in process.text(), "colours when stdout is not a terminal")
            send("GROUP_AT_MESSAGE_CREATE", {"author": {"member_openid": "M1"}, "content": "群里的消息",
                                             "group_openid": "G1"})
            wait_for(lambda: any("GROUP_AT_MESSAGE_CREATE shard 0/1 group G1 M1: 群里的消息" in line
                                 for line in process.lines()), 10, "the group message's line")
            expect(process.stop() == 0, "SIGTERM did not end it with 0")
        checks.run("readable lines carry the message text in Chinese, the author and the group; SIGTERM ends "
                   "with 0", readable_lines)

        def json_lines():
            process = sub("json", "--json")
            send_until_seen(process, CHINESE)
            objects = process.objects()
            event = next(o for o in objects if o["topic"] == "C2C_MESSAGE_CREATE")
            expect(event["body"]["d"]["content"] == CHINESE, f"{event}")
            expect(event["meta"]["source"] == "gateway" and event["meta"]["relay_seq"] > 0, f"{event}")
            expect(CHINESE in process.text(), "the Chinese text is escaped in --json")
            expect(process.stop() == 0, "exit code")
        checks.run("--json: one JSON object per line that Python parses, the body as JSON", json_lines)

        def raw_frames():
            process = sub("raw", "--raw", "-t", "C2C_")
            send_until_seen(process, "raw-frames")
            lines = process.lines()
            at = next(i for i, line in enumerate(lines) if "raw-frames" in line)
            expect(lines[at - 1] == "C2C_MESSAGE_CREATE", f"topic frame: {lines[at - 1]!r}")
            frame = json.loads(lines[at])
            expect(frame["t"] == "C2C_MESSAGE_CREATE" and frame["d"]["content"] == "raw-frames", lines[at])
            expect(json.loads(lines[at + 1])["v"] == 2, f"metadata frame: {lines[at + 1]!r}")
            expect(process.stop() == 0, "exit code")
        checks.run("--raw: the three frames as received, a line each", raw_frames)

        def count_and_topics():
            process = sub("count", "-n", "3", "-t", "C2C_", "--json")
            deadline = time.monotonic() + 20
            while process.proc.poll() is None and time.monotonic() < deadline:
                send("AT_MESSAGE_CREATE", {"content": "not for this client", "channel_id": "1"})
                send("C2C_MESSAGE_CREATE", message("counted"))
                time.sleep(0.1)
            expect(process.proc.wait(5) == 0, "-n 3 did not exit with 0")
            topics = [o["topic"] for o in process.objects()]
            expect(topics == ["C2C_MESSAGE_CREATE"] * 3, f"printed {topics}")
        checks.run("-n 3 -t C2C_: exits 0 after three events, all of the chosen topic", count_and_topics)

        def since_then_live():
            watcher = sub("since-watcher", "--json")
            send_until_seen(watcher, "before-since")
            old = [send("C2C_MESSAGE_CREATE", message(f"old-{i}")) for i in range(5)]
            wait_for(lambda: "old-4" in watcher.text(), 10, "the old events")
            first_old = next(o["meta"]["relay_seq"] for o in watcher.objects() if "old-0" in json.dumps(o["body"]))
            since = first_old - 1
            process = sub("since", "--json", "--replay", replay, "--since", str(since))
            wait_for(lambda: "old-4" in process.text(), 10, "the old events from the replay endpoint")
            send_until_seen(process, "live-after-since")
            seqs = [o["meta"]["relay_seq"] for o in process.objects()]
            expect(seqs[0] == since + 1, f"started at {seqs[0]}, not {since + 1}")
            expect(contiguous(seqs), f"a gap or a repeat: {seqs}")
            bodies = [json.dumps(o["body"], ensure_ascii=False) for o in process.objects()]
            for i in range(5):
                expect(sum(f'"old-{i}"' in b for b in bodies) == 1, f"old-{i} not exactly once")
            expect(len(old) == 5 and process.stop() == 0, "exit code")
        checks.run("--since N: the older events from the replay endpoint, then live, no gap and no repeat",
                   since_then_live)

        def gap_filled():
            process = sub("gap", "--json", "--replay", replay)
            send_until_seen(process, "before-gap")
            start = max(o["meta"]["relay_seq"] for o in process.objects())
            process.proc.send_signal(signal.SIGSTOP)
            flood = 4000
            sim.post("/_sim/generate", {"shard": 0, "count": flood, "rate": 0, "size": 1200})
            wait_for(lambda: replay_last_available() >= start + flood, 60, "the flood published")
            process.proc.send_signal(signal.SIGCONT)
            # The gap shows when a message arrives after it: the flood's tail, or at the latest this one.
            send_until_seen(process, "after-gap", timeout=60)
            seqs = [o["meta"]["relay_seq"] for o in process.objects()]
            expect(seqs[-1] >= start + flood, f"ends at {seqs[-1]}, before the flood's end {start + flood}")
            expect("gap: relay_seq" in process.errors(), "the flood made no gap: the test proves nothing")
            expect(contiguous(seqs), f"gap or repeat left: {len(seqs)} messages from {seqs[0]} to {seqs[-1]}")
            expect(process.stop() == 0, "exit code")
        checks.run("--replay: a gap (client frozen while the relay's send queue overflowed) is filled, in order",
                   gap_filled)

        def usage_errors():
            for args in (["--since", "5"], ["--bogus"], ["--json", "--raw"], ["-n", "0"]):
                code = subprocess.run([RELAY_BIN, "sub", *args], capture_output=True, timeout=10).returncode
                expect(code == 2, f"{args}: exit code {code}")
            bad_replay = subprocess.run([RELAY_BIN, "sub", "-e", pub, "--replay", f"ipc://{tmp}/nothing.sock",
                                         "--since", "1", "--replay-timeout", "300"], capture_output=True,
                                        timeout=10)
            expect(bad_replay.returncode == 1 and b"no answer" in bad_replay.stderr, f"{bad_replay}")
        checks.run("exit codes: 2 for a bad command line, 1 when the replay endpoint does not answer", usage_errors)

        def gaps_per_node():
            cluster = [FakeClusterRelay(tmp, "sub-a"), FakeClusterRelay(tmp, "sub-b")]
            try:
                process = SubProcess(tmp, "nodes", "-e", cluster[0].pub_endpoint, "-e", cluster[1].pub_endpoint)
                subs.append(process)
                for fake in cluster:
                    fake.wait_subscribed()
                for relay_seq in (1, 2, 3):  # the two streams interleaved: no gap in either
                    cluster[0].publish(relay_seq, f"A:{relay_seq}")
                    cluster[1].publish(relay_seq, f"B:{relay_seq}")
                cluster[1].publish(5, "B:5")  # one gap, in b's stream
                wait_for(lambda: any("B:5" in line for line in process.lines()), 10, "b's #5")
                expect(any(" sub-a #1 C2C_MESSAGE_CREATE" in line for line in process.lines()), process.text())
                expect(process.errors().count("gap: relay_seq") == 1 and "gap: relay_seq 4..4 lost" in
                       process.errors(), process.errors())
            finally:
                for fake in cluster:
                    fake.close()
        checks.run("-e for two relays of a cluster: each line names its node, gaps are found per node",
                   gaps_per_node)

        def curve():
            expect(relay.stop() == 0, "the plain relay's exit code")
            for name in ("curve-relay", "curve-client"):
                subprocess.run([RELAY_BIN, "keygen", f"{tmp}/{name}"], check=True, capture_output=True, timeout=10)
            with open(f"{tmp}/curve-client.pub") as f, open(f"{tmp}/authorized_keys", "w") as out:
                out.write(f.read())
            curve_pub, curve_replay = f"ipc://{tmp}/curve-pub.sock", f"ipc://{tmp}/curve-replay.sock"
            curve_config = relay_config(sim, curve_pub, f"{tmp}/curve-state").replace("[publish]\n", f"""[publish]
replay_endpoint = "{curve_replay}"
curve_secret_key_file = "curve-relay.key"
curve_authorized_keys = "authorized_keys"
""")
            curve_relay = Relay(tmp, curve_config, name="curve-relay")
            relays.append(curve_relay)
            keys = ["--curve-server-key", f"{tmp}/curve-relay.pub", "--curve-key", f"{tmp}/curve-client.key"]
            process = SubProcess(tmp, "curve", "-e", curve_pub, "--replay", curve_replay, "--json", *keys)
            subs.append(process)
            send_until_seen(process, "over CURVE", timeout=30)
            seqs = [o["meta"]["relay_seq"] for o in process.objects()]
            expect(contiguous(seqs), f"{seqs}")
            since = SubProcess(tmp, "curve-since", "-e", curve_pub, "--replay", curve_replay, "--since", "0",
                               "-n", "2", *keys)
            subs.append(since)
            expect(since.proc.wait(10) == 0, f"--since 0 -n 2 over CURVE: {since.errors()}")
            expect(len(since.lines()) == 2 and "#1 " in since.lines()[0], f"{since.lines()}")
            expect(process.stop() == 0, "exit code")
        checks.run("CURVE: key files from keygen, for the PUB and the replay endpoint", curve)
    finally:
        tear_down(checks, tmp, Closer(), *relays, sim)
    checks.finish()


if __name__ == "__main__":
    main()
