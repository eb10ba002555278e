#!/usr/bin/python3
"""The Python and Node clients as their users get them: `pip install ./clients/python` into a fresh virtual
environment (offline: Debian's setuptools and pyzmq, no index), `npm install ./clients/node` into an empty folder,
each then used through its documented API against a relay fed by the simulator (live events, then catch-up from
the replay endpoint). Their versions are the relay's; their type information (py.typed, index.d.ts) is checked by
mypy --strict and tsc --strict against a use of every member; index.d.ts names what index.mjs exports.

Needs python3-venv, python3-mypy, node, npm and clients/node/node_modules (scripts/install-deps.sh)."""
import json
import os
import re
import shutil
import subprocess
import sys

from harness import Checks, Relay, Sim, expect, relay_config, tear_down, wait_for, workdir

SOURCE = os.path.abspath(os.environ.get("QQ_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", "..")))
PYTHON_SOURCE = os.path.join(SOURCE, "clients", "python")
NODE_SOURCE = os.path.join(SOURCE, "clients", "node")
NODE = shutil.which("node")
NPM = shutil.which("npm")
TSC = os.path.join(NODE_SOURCE, "node_modules", ".bin", "tsc")
# pip and npm must not reach out for what the test says is offline: any proxy use fails at once.
OFFLINE = {"http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9", "PIP_NO_INDEX": "1"}

PYTHON_USE = r'''
import json
import sys
from typing import List, Optional

import zmq

import qq_gateway_relay_client
from qq_gateway_relay_client import Journal, Meta, Subscriber


class Collect:
    """A Sink: keeps what it is handed."""

    def __init__(self, last: Optional[int]) -> None:
        self.last = last
        self.seen: List[int] = []
        self.topics: List[str] = []

    def handle(self, topic: bytes, body: bytes, meta: Meta) -> None:
        self.last = meta["relay_seq"]
        self.seen.append(meta["relay_seq"])
        self.topics.append(topic.decode())


def main() -> None:
    pub, replay, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    subscriber = Subscriber(zmq.Context.instance(), pub, replay)
    if mode == "live":
        sink = Collect(None)
        subscriber.run(sink, count=3)
    else:  # catch up from a journal's last line, as far as the relay retains
        journal = Journal(sys.argv[4])
        subscriber.catch_up(journal)
        journal.close()
        sink = Collect(journal.last)
    subscriber.close()
    print(json.dumps({"version": qq_gateway_relay_client.__version__, "module": qq_gateway_relay_client.__file__,
                      "seen": sink.seen, "topics": sink.topics, "last": sink.last}))


main()
'''

NODE_USE = r'''
import { Journal, Subscriber, version } from "qq-gateway-relay-client";

const [pub, replay, mode, journalPath] = process.argv.slice(2);
const subscriber = new Subscriber(pub, replay);
const sink = { last: null, seen: [], topics: [], handle(topic, body, meta) {
  this.last = meta.relay_seq; this.seen.push(meta.relay_seq); this.topics.push(topic.toString()); } };
if (mode === "live") {
  await subscriber.run(sink, 0, 3);
} else {
  const journal = new Journal(journalPath);
  await subscriber.catchUp(journal);
  journal.close();
  sink.last = journal.last;
}
subscriber.close();
console.log(JSON.stringify({ version, seen: sink.seen, topics: sink.topics, last: sink.last }));
'''

# Compiled by tsc --strict against index.d.ts: a use of every declared member, with the types a user would write.
TYPESCRIPT_USE = r'''
import { ClusterJournal, ClusterSubscriber, Journal, RECENT_IDS, REPLY_TIMEOUT_MS, RecentIds, Subscriber, pythonJson,
         version }
  from "qq-gateway-relay-client";
import type { CurveKeys, Message, Meta, ReplayHeader, Sink } from "qq-gateway-relay-client";

const keys: CurveKeys = { server: "s", public: "p", secret: "k" };
const subscriber = new Subscriber("ipc:///tmp/a", "ipc:///tmp/b", keys, 1000);
const plain = new Subscriber("ipc:///tmp/a", "ipc:///tmp/b");
const journal: Sink = new Journal("j.jsonl");
const seqs: number[] = [];
const sink: Sink = { last: null, handle(topic: Buffer, body: Buffer, meta: Meta) { seqs.push(meta.relay_seq); } };
async function use(): Promise<void> {
  const [header, messages]: [ReplayHeader, Message[]] = await subscriber.ask(null, 10);
  const first: number | null = header.first_available;
  for (const [topic, body, meta] of messages) sink.handle(topic, body, meta);
  await subscriber.catchUp(journal, first);
  await plain.run(sink, 0, 3);
  const v: string = version + pythonJson({ a: 1 }) + String(Subscriber.triples([]).length);
  subscriber.sub.subscribe();
  subscriber.close();
  new Journal().close();
  const cluster = new ClusterSubscriber([["ipc:///tmp/a", "ipc:///tmp/b"], ["ipc:///tmp/c", "ipc:///tmp/d"]], keys, 10);
  const clusterJournal = new ClusterJournal(null);
  await cluster.run(clusterJournal, 0, 1);
  const position: number | undefined = clusterJournal.positions.get("ipc:///tmp/a");
  const node: string | undefined = cluster.nodes.get("ipc:///tmp/a");
  const repeat: boolean = new RecentIds(RECENT_IDS).add("id") && clusterJournal.recent.add("id");
  clusterJournal.handleFrom("ipc:///tmp/a", Buffer.from(""), Buffer.from(""), { relay_seq: 1, source: "relay",
                                                                               event_id: "e", node: "n" });
  const counts: number = cluster.handled + cluster.repeats + cluster.subscribers.length + REPLY_TIMEOUT_MS;
  cluster.close();
  void [v, position, node, repeat, counts];
}
void use;
'''


def run(command, timeout, cwd=None, env=None, check=True):
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=cwd,
                            env={**os.environ, **(env or {})})
    if check:
        expect(result.returncode == 0, f"{' '.join(command)} exited {result.returncode}: "
               f"{result.stdout[-2000:]}{result.stderr[-2000:]}")
    return result


def relay_version():
    with open(os.path.join(SOURCE, "CMakeLists.txt")) as f:
        return re.search(r"project\(qq-gateway-relay VERSION ([0-9.]+)", f.read()).group(1)


def versions_agree():
    relay = relay_version()
    with open(os.path.join(PYTHON_SOURCE, "qq_gateway_relay_client", "__init__.py")) as f:
        python = re.search(r'^__version__ = "([^"]+)"', f.read(), re.M).group(1)
    with open(os.path.join(PYTHON_SOURCE, "pyproject.toml")) as f:
        expect('version = { attr = "qq_gateway_relay_client.__version__" }' in f.read(),
               "pyproject.toml takes its version from __version__")
    with open(os.path.join(NODE_SOURCE, "package.json")) as f:
        node = json.load(f)["version"]
    with open(os.path.join(NODE_SOURCE, "package-lock.json")) as f:
        lock = json.load(f)
    found = {"CMakeLists.txt": relay, "__init__.py": python, "package.json": node,
             "package-lock.json": lock["version"], "package-lock.json packages['']": lock["packages"][""]["version"]}
    expect(len(set(found.values())) == 1, f"the versions differ: {found}")


def send_until(sim, proc, what, timeout=20):
    """Sends events until `proc` (which waits for some) has exited: a client that has just connected may not have
    joined yet, and an event sent too early would be lost to it."""
    def exited():
        sim.post("/_sim/send", {"shard": 0, "t": "PACKAGE_TEST", "d": {}})
        try:
            proc.wait(0.3)
            return True
        except subprocess.TimeoutExpired:
            return False
    try:
        wait_for(exited, timeout, what)
    finally:
        if proc.poll() is None:
            proc.kill()
    out, err = proc.communicate(timeout=10)
    expect(proc.returncode == 0, f"{what}: exit {proc.returncode}: {err[-2000:]}")
    return json.loads(out.strip().splitlines()[-1])


def live_then_catch_up(sim, pub, replay, command, journal, cwd):
    """The client's API: three live events, then (from a journal holding the first) every later one retained."""
    live = send_until(sim, subprocess.Popen([*command, pub, replay, "live"], cwd=cwd, text=True,
                                            stdout=subprocess.PIPE, stderr=subprocess.PIPE), "3 live events")
    expect(len(live["seen"]) == 3 and live["topics"] == ["PACKAGE_TEST"] * 3, f"live: {live}")
    expect(live["seen"] == list(range(live["seen"][0], live["seen"][0] + 3)), f"live relay_seq: {live['seen']}")
    with open(journal, "w") as f:
        f.write(json.dumps({"relay_seq": live["seen"][0], "topic": "PACKAGE_TEST"}) + "\n")
    caught = json.loads(run([*command, pub, replay, "catch-up", journal], 30, cwd=cwd).stdout)
    expect(caught["last"] is not None and caught["last"] >= live["seen"][-1], f"catch-up: {caught}")
    with open(journal) as f:
        seqs = [json.loads(line)["relay_seq"] for line in f]
    expect(seqs == list(range(seqs[0], seqs[-1] + 1)) and seqs[-1] == caught["last"], f"journal: {seqs}")
    return live


def python_package(tmp, sim, pub, replay):
    # A copy: building in place would leave build/ and *.egg-info in the source tree.
    source = os.path.join(tmp, "python-source")
    shutil.copytree(PYTHON_SOURCE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    venv = os.path.join(tmp, "venv")
    run(["/usr/bin/python3", "-m", "venv", "--system-site-packages", venv], 60)
    python = os.path.join(venv, "bin", "python")
    run([python, "-m", "pip", "install", "--no-index", "--no-build-isolation", "--no-cache-dir", source], 120,
        env=OFFLINE)
    shown = run([python, "-m", "pip", "show", "qq-gateway-relay-client"], 30).stdout
    expect(f"Version: {relay_version()}\n" in shown and "Requires: pyzmq" in shown, shown)
    help_text = run([os.path.join(venv, "bin", "relay-subscriber"), "--help"], 30).stdout
    expect("replay_endpoint" in help_text, help_text)
    use = os.path.join(tmp, "use_client.py")
    with open(use, "w") as f:
        f.write(PYTHON_USE)
    # mypy reads the installed package only through its py.typed marker, and the use above with --strict.
    checked = run([python, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", os.devnull, use], 120,
                  cwd=tmp, check=False)
    expect(checked.returncode == 0, f"mypy --strict: {checked.stdout}{checked.stderr}")
    # The package's own hints (mypy keeps quiet about errors inside an installed package).
    checked = run([python, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", os.devnull,
                   "qq_gateway_relay_client", "relay_subscriber.py"], 120, cwd=source, check=False)
    expect(checked.returncode == 0, f"mypy --strict on the package: {checked.stdout}{checked.stderr}")
    live = live_then_catch_up(sim, pub, replay, [python, use], os.path.join(tmp, "python.jsonl"), tmp)
    expect(live["module"].startswith(venv), f"imported from {live['module']}, not the virtual environment")
    expect(live["version"] == relay_version(), f"__version__ {live['version']}")


def node_package(tmp, sim, pub, replay):
    folder = os.path.join(tmp, "node-app")
    os.mkdir(folder)
    with open(os.path.join(folder, "package.json"), "w") as f:
        json.dump({"name": "app", "private": True, "type": "module"}, f)
    # --install-links: a copy of the package as npm would publish it (its "files"), not a link to the source tree.
    run([NPM, "install", "--install-links", "--prefer-offline", "--no-audit", "--no-fund", NODE_SOURCE], 300,
        cwd=folder)
    installed = os.path.join(folder, "node_modules", "qq-gateway-relay-client")
    expect(not os.path.islink(installed), "npm linked the source tree instead of installing the package")
    files = sorted(os.listdir(installed))
    expect(files == ["README.md", "README.zh-CN.md", "index.d.ts", "index.mjs", "package.json",
                     "relay_subscriber.mjs"], f"installed files: {files}")
    help_text = run([os.path.join(folder, "node_modules", ".bin", "relay-subscriber"), "--help"], 30).stdout
    expect("REPLAY_ENDPOINT" in help_text, help_text)
    use = os.path.join(folder, "use_client.mjs")
    with open(use, "w") as f:
        f.write(NODE_USE)
    live = live_then_catch_up(sim, pub, replay, [NODE, use], os.path.join(tmp, "node.jsonl"), folder)
    expect(live["version"] == relay_version(), f"version {live['version']}")
    return folder, installed


def node_types(folder, installed):
    # Every value index.mjs exports is declared in index.d.ts, and nothing more; the same for the classes' methods.
    with open(os.path.join(installed, "index.d.ts")) as f:
        declarations = f.read()
    declared = sorted(re.findall(r"^export (?:const|function|class) (\w+)", declarations, re.M))
    listed = run([NODE, "--input-type=module", "-e", """
import * as m from "qq-gateway-relay-client";
const methods = (c) => Object.getOwnPropertyNames(c.prototype).filter((n) => n !== "constructor").sort();
console.log(JSON.stringify({ names: Object.keys(m).sort(), Subscriber: methods(m.Subscriber),
                             Journal: methods(m.Journal) }));"""], 30, cwd=folder)
    exported = json.loads(listed.stdout)
    expect(exported["names"] == declared, f"index.mjs exports {exported['names']}, index.d.ts declares {declared}")
    for cls in ("Subscriber", "Journal"):
        body = re.search(r"^export class " + cls + r"\b.*?^}", declarations, re.M | re.S).group(0)
        methods = sorted(set(re.findall(r"^  (\w+)\(", body, re.M)) - {"constructor"})
        expect(exported[cls] == methods, f"{cls}: index.mjs has {exported[cls]}, index.d.ts {methods}")
    with open(os.path.join(folder, "use_types.ts"), "w") as f:
        f.write(TYPESCRIPT_USE)
    checked = run([TSC, "--noEmit", "--strict", "--module", "nodenext", "--moduleResolution", "nodenext",
                   "--target", "es2022", "--types", "node", "--typeRoots",
                   os.path.join(NODE_SOURCE, "node_modules", "@types"), "use_types.ts"], 120, cwd=folder, check=False)
    expect(checked.returncode == 0, f"tsc --strict: {checked.stdout}{checked.stderr}")


def main():
    checks = Checks()
    checks.run("the relay, the Python package and the Node package carry one version", versions_agree)
    missing = [what for what, ok in (("node", NODE), ("npm", NPM), ("clients/node/node_modules (typescript)",
                                                                    os.path.exists(TSC))) if not ok]
    if missing:
        checks.run("node, npm and clients/node/node_modules are installed (scripts/install-deps.sh)",
                   lambda: expect(False, f"missing: {', '.join(missing)}"))
    tmp = workdir()
    sim = Sim(tmp, "--shards", "1", "--heartbeat-interval", "2000")
    pub, replay = f"ipc://{tmp}/pub.sock", f"ipc://{tmp}/replay.sock"
    config = relay_config(sim, pub, f"{tmp}/state").replace(
        "[publish]\n", f'[publish]\nreplay_endpoint = "{replay}"\n')
    relay = Relay(tmp, config)
    try:
        wait_for(lambda: sim.get("/_sim/state")["shards"] and sim.get("/_sim/state")["shards"][0]["connected"], 30,
                 "the shard READY")
        checks.run("pip installs clients/python offline into a fresh venv; mypy --strict accepts its use; it "
                   "receives live events and catches up through its API",
                   lambda: python_package(tmp, sim, pub, replay))
        if not missing:
            node = {}
            checks.run("npm installs clients/node into an empty folder; an ESM script importing it receives live "
                       "events and catches up", lambda: node.update(zip(("folder", "installed"),
                                                                         node_package(tmp, sim, pub, replay))))
            if node:
                checks.run("index.d.ts declares what index.mjs exports; tsc --strict accepts a use of every member",
                           lambda: node_types(node["folder"], node["installed"]))
        checks.run("SIGTERM exits 0", lambda: expect(relay.stop() == 0, "exit code"))
    finally:
        tear_down(checks, tmp, relay, sim)
    checks.finish()


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(__file__))
    main()
