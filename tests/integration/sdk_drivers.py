"""The SDK drivers of tests/sdk (*_gateway.cjs) as seen from a Python test: which SDKs there are, how each is
started, the JSON lines each prints, and the events to feed them. Shared by the tests that run unmodified SDKs
against the simulator and against the relay."""
import collections
import datetime
import json
import os
import shutil
import subprocess
import threading

from harness import wait_for

SOURCE = os.environ.get("QQ_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
SDK_DIR = os.path.join(SOURCE, "tests", "sdk")
PACKAGES = ("qq-official-bot", "qq-guild-bot", "@satorijs/adapter-qq")
CHANNEL = "C-SDK"

# name; driver script; whether its secret is the AppSecret ("secret") or the legacy bot token ("bot_token");
# intents (the SDK's names); event types those intents cover; the scheme of its Identify token; whether it always
# resumes after 4009. qq-official-bot opens two sockets at once after a close (its connection manager and its
# receiver both reconnect), and which Hello it answers first decides between Resume and a new Identify (then a
# Resume of the new session with the old seq, closed 4007, and a second Resume).
Sdk = collections.namedtuple("Sdk", "name script credential intents types token_scheme resume_only")
SDKS = [
    Sdk("qq-official-bot", "qq-official-bot_gateway.cjs", "secret", "GUILDS,PUBLIC_GUILD_MESSAGES,GROUP_AND_C2C_EVENT",
        ("AT_MESSAGE_CREATE", "GROUP_AT_MESSAGE_CREATE", "C2C_MESSAGE_CREATE"), "QQBot", False),
    Sdk("qq-guild-bot", "qq-guild-bot_gateway.cjs", "bot_token", "GUILDS,PUBLIC_GUILD_MESSAGES,DIRECT_MESSAGE",
        ("AT_MESSAGE_CREATE", "DIRECT_MESSAGE_CREATE"), "Bot", True),
    Sdk("satori-adapter-qq", "satori-adapter-qq_gateway.cjs", "secret", "GUILDS,PUBLIC_GUILD_MESSAGES,USER_MESSAGE",
        ("AT_MESSAGE_CREATE", "GROUP_AT_MESSAGE_CREATE", "C2C_MESSAGE_CREATE"), "QQBot", True),
]


def installed():
    return all(os.path.isdir(os.path.join(SDK_DIR, "node_modules", p)) for p in PACKAGES)


class Driver:
    """One SDK driver process: its JSON lines, collected on a thread, and its stdin for reply commands."""

    def __init__(self, tmp, name, script, base, app_id, secret, intents):
        self.name = name
        self.stderr = open(os.path.join(tmp, f"{name}.stderr"), "w")
        self.proc = subprocess.Popen([shutil.which("node") or "node", os.path.join(SDK_DIR, script), base, app_id,
                                      secret, intents], cwd=SDK_DIR, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.stderr, text=True)
        self.lines = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for raw in self.proc.stdout:
            try:
                line = json.loads(raw)
            except ValueError:
                line = {"unparsed": raw}
            with self.lock:
                self.lines.append(line)

    def snapshot(self):
        with self.lock:
            return list(self.lines)

    def wait(self, predicate, timeout, what, start=0):
        """Waits for a line (from index `start` on) that satisfies predicate; returns its index and the line."""
        def found():
            for i, line in enumerate(self.snapshot()[start:], start):
                if predicate(line):
                    return (i, line)
            return None
        try:
            return wait_for(found, timeout, f"{self.name}: {what}")
        except AssertionError as error:
            raise AssertionError(f"{error}; lines: {json.dumps(self.snapshot())[-2000:]}") from None

    def events(self, message_id):
        return [line for line in self.snapshot() if "t" in line and isinstance(line.get("d"), dict)
                and line["d"].get("id") == message_id]

    def command(self, obj):
        self.proc.stdin.write(json.dumps(obj, ensure_ascii=False) + "\n")
        self.proc.stdin.flush()

    def finish(self, timeout=15):
        """Closes stdin (the driver's signal to stop) and returns its exit code."""
        if self.proc.stdin and not self.proc.stdin.closed:
            self.proc.stdin.close()
        return self.proc.wait(timeout)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.stderr.close()


def now_rfc3339():
    # Satori's adapter replies passively only within 5 minutes of the message's own timestamp.
    return datetime.datetime.now(datetime.timezone.utc).astimezone().isoformat(timespec="seconds")


def event_d(t, message_id, text):
    author = {"id": "U-SDK", "username": "tester", "bot": False}
    if t == "GROUP_AT_MESSAGE_CREATE":
        return {"id": message_id, "group_openid": "G-SDK", "content": text, "timestamp": now_rfc3339(),
                "author": {"id": "M-OPENID", "member_openid": "M-OPENID"}}
    if t == "C2C_MESSAGE_CREATE":
        return {"id": message_id, "content": text, "timestamp": now_rfc3339(),
                "author": {"id": "U-OPENID", "user_openid": "U-OPENID"}}
    return {"id": message_id, "channel_id": CHANNEL, "guild_id": "5237615478283154023", "content": text,
            "timestamp": now_rfc3339(), "author": author, "member": {"roles": ["1"]}}
