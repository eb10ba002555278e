#!/usr/bin/python3
"""The systemd side: the generated unit passes `systemd-analyze verify`, and under a (fake) NOTIFY_SOCKET the relay
sends READY=1 once a shard is up, STATUS= lines, WATCHDOG=1 pings from its event loop, and STOPPING=1."""
import os
import re
import shutil
import socket
import subprocess
import time

from harness import RELAY_BIN, Checks, Relay, Sim, expect, relay_config, tear_down, wait_for, workdir

BUILD_DIR = os.path.dirname(os.path.dirname(os.path.abspath(RELAY_BIN)))
UNIT = os.path.join(BUILD_DIR, "systemd", "qq-gateway-relay.service")
SOCKET_UNIT = os.path.join(BUILD_DIR, "systemd", "qq-gateway-relay.socket")


def main():
    checks = Checks()
    tmp = workdir()
    parts = []
    try:
        def unit_verifies():
            expect(os.path.exists(UNIT), f"no generated unit at {UNIT}")
            with open(UNIT) as f:
                text = f.read()
            for line in ("Type=notify", "WatchdogSec=", "Restart=on-failure", "RestartPreventExitStatus=77 78",
                         "DynamicUser=yes", "StateDirectory=", "ConfigurationDirectory=", "LoadCredential=",
                         "ProtectSystem=strict", "NoNewPrivileges=yes", "PrivateTmp=yes", "RestrictAddressFamilies=",
                         "SystemCallFilter=@system-service", "MemoryDenyWriteExecute=yes", "LimitCORE=0"):
                expect(line in text, f"the unit lacks {line}")
            # verify checks that ExecStart exists, so point it at this build's binary.
            installed = re.search(r"ExecStart=(\S+)", text).group(1)
            local = os.path.join(tmp, "qq-gateway-relay.service")
            with open(local, "w") as f:
                f.write(text.replace(installed, os.path.abspath(RELAY_BIN)))
            if shutil.which("systemd-analyze") is None:
                raise AssertionError("systemd-analyze is missing (Debian package systemd)")
            # The socket unit beside it, for the [api] listener (docs/downstream.md).
            shutil.copy(SOCKET_UNIT, os.path.join(tmp, "qq-gateway-relay.socket"))
            with open(SOCKET_UNIT) as f:
                socket_text = f.read()
            expect("ListenStream=127.0.0.1:8081" in socket_text and "BindIPv6Only=ipv6-only" in socket_text,
                   "the socket unit does not listen where api.listen does by default, as the relay binds")
            result = subprocess.run(["systemd-analyze", "verify", local, os.path.join(tmp, "qq-gateway-relay.socket")],
                                    capture_output=True, text=True)
            expect(result.returncode == 0 and not result.stderr.strip(), f"verify: {result.stderr}")
        checks.run("the generated service and socket units pass systemd-analyze verify", unit_verifies)

        def notify_protocol():
            path = os.path.join(tmp, "notify.sock")
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            listener.bind(path)
            # Shorter than the 200 ms between pings, so that a drain ends between two of them.
            listener.settimeout(0.05)
            messages = []

            def drain():
                while True:
                    try:
                        messages.append(listener.recv(4096).decode())
                    except socket.timeout:
                        return messages

            sim = Sim(tmp, "--shards", "2", "--max-concurrency", "2", "--heartbeat-interval", "2000")
            parts.append(sim)
            environment = dict(os.environ, NOTIFY_SOCKET=path, WATCHDOG_USEC="400000")
            relay = Relay(tmp, relay_config(sim, f"ipc://{tmp}/relay.sock", f"{tmp}/state"), env=environment)
            parts.insert(0, relay)
            wait_for(lambda: any(m.startswith("READY=1") for m in drain()), 20, "READY=1")
            ready = [m for m in messages if m.startswith("READY=1")]
            expect(len(ready) == 1 and "STATUS=" in ready[0] and "shards ready" in ready[0], f"READY: {ready}")
            wait_for(lambda: any("2/2 shards ready" in m for m in drain()), 20, "STATUS with both shards")
            # No shard changes state now: the message count still reaches STATUS, by the periodic refresh.
            sim.post("/_sim/generate", {"count": 50, "rate": 0, "size": 300})

            def published_in_status():
                counts = [int(m) for m in re.findall(r"STATUS=2/2 shards ready, (\d+) messages published",
                                                     "\n".join(drain()))]
                return counts and counts[-1] >= 100
            wait_for(published_in_status, 15, "a STATUS line counting the 100 generated events")
            before = sum(m == "WATCHDOG=1" for m in drain())
            time.sleep(1.0)
            pings = sum(m == "WATCHDOG=1" for m in drain()) - before
            expect(3 <= pings <= 8, f"{pings} watchdog pings in 1 s with WATCHDOG_USEC=400000")
            expect(relay.stop() == 0, "exit code")
            expect(any(m.startswith("STOPPING=1") for m in drain()), "no STOPPING=1")
            listener.close()
        checks.run("READY=1, STATUS=, WATCHDOG=1 and STOPPING=1 over NOTIFY_SOCKET", notify_protocol)
    finally:
        tear_down(checks, tmp, *parts)
    checks.finish()


if __name__ == "__main__":
    main()
