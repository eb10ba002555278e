#!/usr/bin/python3
"""No core file while the relay holds its secrets: RLIMIT_CORE is 0 (soft and hard), and the process is not
dumpable. The kernel shows a process that is not dumpable by giving its /proc/<pid>/ files to root, which is
visible only while the process runs as another user: so the relay runs as an unprivileged user here (nobody,
through setpriv, when the test runs as root)."""
import os
import subprocess

from harness import RELAY_BIN, Checks, Sim, expect, relay_config, tear_down, wait_for, workdir

NOBODY = 65534


class UnprivilegedRelay:
    def __init__(self, home, config_text):
        self.config_path = os.path.join(home, "relay.toml")
        with open(self.config_path, "w") as f:
            f.write(config_text)
        self.log_path = os.path.join(home, "relay.log")
        self.log = open(self.log_path, "w")
        prefix = []
        if os.geteuid() == 0:
            for path in (home, self.config_path, self.log_path):
                os.chown(path, NOBODY, NOBODY)
            prefix = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
        self.proc = subprocess.Popen([*prefix, os.path.abspath(RELAY_BIN), "--config", self.config_path],
                                     stdout=self.log, stderr=subprocess.STDOUT)

    def log_text(self):
        with open(self.log_path) as f:
            return f.read()

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def status_uid(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Uid:"):
                return int(line.split()[1])
    raise AssertionError("no Uid line in /proc/<pid>/status")


def main():
    checks = Checks()
    tmp = workdir()
    parts = []
    try:
        sim = Sim(tmp)
        parts.append(sim)
        os.chmod(tmp, 0o711)  # the unprivileged relay must reach its own directory inside
        home = os.path.join(tmp, "relay")
        os.mkdir(home, 0o700)
        relay = UnprivilegedRelay(home, relay_config(sim, f"ipc://{home}/relay.sock", f"{home}/state"))
        parts.insert(0, relay)
        wait_for(lambda: "ready" in relay.log_text() or relay.proc.poll() is not None, 20, "a ready shard")
        expect(relay.proc.poll() is None, f"the relay exited: {relay.log_text()[-2000:]}")
        pid = relay.proc.pid
        expect(status_uid(pid) != 0, "the relay runs as root: the dumpable check would prove nothing")

        def core_limit_is_zero():
            with open(f"/proc/{pid}/limits") as f:
                row = next(line for line in f if line.startswith("Max core file size"))
            soft, hard = row.split()[4:6]
            expect((soft, hard) == ("0", "0"), f"core file limit: {row.strip()}")
        checks.run("RLIMIT_CORE is 0, soft and hard", core_limit_is_zero)

        def not_dumpable():
            owner = os.stat(f"/proc/{pid}/environ").st_uid
            expect(owner == 0, f"/proc/<pid>/environ belongs to uid {owner}, not root: the relay is dumpable")
        checks.run("the relay is not dumpable (its /proc files belong to root)", not_dumpable)
    finally:
        tear_down(checks, tmp, *parts)
    checks.finish()


if __name__ == "__main__":
    main()
