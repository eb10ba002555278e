#!/usr/bin/python3
"""The echo bots in docs/examples/ (Python: pyzmq + urllib; Node: zeromq + fetch) against a relay with [api] on
and the simulator: each group @-message and C2C message they read from the bus gets two passive replies
through the relay, which the simulator records with the message's msg_id and msg_seq 1 and 2 (added by the
relay; the bots set none), and the relay's token, never the bot's key.
Environment: QQ_RELAY_BIN, QQ_SIM_BIN, QQ_SOURCE_DIR.
"""
import json
import os
import shutil
import subprocess
import time
import uuid

from harness import Checks, Relay, Sim, expect, relay_config, tear_down, wait_for, workdir
from webhook_client import accepts_connections, free_port

SOURCE = os.environ.get("QQ_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
EXAMPLES = os.path.join(SOURCE, "docs", "examples")
NODE_MODULES = os.path.join(SOURCE, "clients", "node", "node_modules")
KEY = "e" * 24 + "-example-bot-key-0123"


def main():
    checks = Checks()
    tmp = workdir()
    sim = Sim(tmp, "--shards", "1")
    api_port = free_port()
    with open(f"{tmp}/clients", "w") as f:
        f.write(f"example {KEY}\n")
    pub = f"ipc://{tmp}/pub.sock"
    relay = Relay(tmp, relay_config(sim, pub, f"{tmp}/state") + f"""
[api]
enabled = true
listen = "127.0.0.1:{api_port}"
clients_file = "{tmp}/clients"
""")
    api = f"http://127.0.0.1:{api_port}"
    bots = []

    def replies_to(msg_id):
        return [e for e in sim.get("/_sim/api/requests")["requests"]
                if e["method"] == "POST" and json.loads(e["body"]).get("msg_id") == msg_id]

    def send(kind, text):
        msg_id = "M-" + uuid.uuid4().hex[:12]
        d = {"id": msg_id, "content": text, "timestamp": "2026-12-06T17:00:00+08:00"}
        if kind == "GROUP_AT_MESSAGE_CREATE":
            d |= {"group_openid": "G-EXAMPLE", "author": {"member_openid": "MEMBER1"}}
        else:
            d |= {"author": {"user_openid": "USER1"}}
        sim.post("/_sim/send", {"shard": 0, "t": kind, "d": d})
        return msg_id

    def run_bot(name, command):
        err = open(f"{tmp}/{name}.err", "w")
        bot = subprocess.Popen(command, stdout=err, stderr=subprocess.STDOUT, cwd=tmp)
        bots.append(bot)
        # PUB/SUB joins asynchronously: probe until the bot answers one message, then check for real.
        deadline = time.monotonic() + 30
        while True:
            expect(bot.poll() is None, f"{name} exited: {open(f'{tmp}/{name}.err').read()}")
            probe = send("C2C_MESSAGE_CREATE", "probe")
            try:
                wait_for(lambda: replies_to(probe), 1, f"{name} answering a probe")
                break
            except AssertionError:
                expect(time.monotonic() < deadline, f"{name} never answered: {open(f'{tmp}/{name}.err').read()}")
        for kind, path, text in (("GROUP_AT_MESSAGE_CREATE", "/v2/groups/G-EXAMPLE/messages", " 你好，机器人 "),
                                 ("C2C_MESSAGE_CREATE", "/v2/users/USER1/messages", "hello")):
            msg_id = send(kind, text)
            got = wait_for(lambda: len(replies_to(msg_id)) >= 2 and replies_to(msg_id), 10, f"{name}: two replies")
            expect(len(got) == 2, got)
            bodies = [json.loads(e["body"]) for e in got]
            expect([e["path"] for e in got] == [path, path], [e["path"] for e in got])
            expect(sorted(b["msg_seq"] for b in bodies) == [1, 2], bodies)
            expect({b["content"] for b in bodies} == {f"echo: {text.strip()}", f"{len(text.strip())} characters"},
                   bodies)
            expect(all(e["status"] == 200 for e in got), [e["status"] for e in got])
            for e in got:
                sent = e["headers"]["authorization"]
                expect(sent.startswith("QQBot ") and KEY not in sent, sent)
        bot.kill()  # the next bot must be the only one answering
        bot.wait()

    try:
        wait_for(lambda: relay.proc.poll() is not None or accepts_connections(api_port), 30, "the api listener")
        expect(relay.proc.poll() is None, relay.log_text()[-2000:])
        wait_for(lambda: sim.get("/_sim/state")["shards"] and sim.get("/_sim/state")["shards"][0]["connected"], 30,
                 "the shard READY")
        checks.run("the Python echo bot replies twice per message; msg_seq 1 and 2 come from the relay",
                   lambda: run_bot("python", ["/usr/bin/python3", os.path.join(EXAMPLES, "echo_bot.py"), pub, api,
                                              KEY]))
        if os.path.isdir(NODE_MODULES):
            def node_bot():
                # The example imports "zeromq": run a copy next to the clients' node_modules.
                os.symlink(NODE_MODULES, f"{tmp}/node_modules")
                shutil.copy(os.path.join(EXAMPLES, "echo_bot.mjs"), f"{tmp}/echo_bot.mjs")
                run_bot("node", [shutil.which("node") or "node", f"{tmp}/echo_bot.mjs", pub, api, KEY])
            checks.run("the Node echo bot (zeromq + fetch) does the same", node_bot)
        else:
            print("SKIP node: clients/node/node_modules is missing (scripts/install-deps.sh)", flush=True)
    finally:
        for bot in bots:
            bot.kill()
            bot.wait()
        tear_down(checks, tmp, relay, sim)
    checks.finish()


if __name__ == "__main__":
    main()
