#!/usr/bin/python3
"""SIGHUP while events flow: a valid config applies its live keys (topic prefix, log level and format) and names
the keys that need a restart; an invalid one changes nothing; the webhook's TLS certificate is re-read, and a
renewal whose key does not match is refused. Through all of it no gateway connection closes and every event
arrives exactly once, in order."""
import json
import os
import signal
import socket
import ssl
import subprocess

from harness import Checks, Relay, Sim, Subscriber, expect, relay_config, tear_down, wait_for, workdir
from metrics_client import metrics
from tls_certs import make_certificate, served_certificate
from webhook_client import WebhookClient, free_port

SHARDS = 2
PER_SHARD = 1500  # at 250 events/s per shard: six seconds of stream to reload into


def certificate_pem(directory, name):
    """(certificate PEM, key PEM) of a new self-signed pair named `name`."""
    cert, key = make_certificate(directory, name, host=name)
    with open(cert, "rb") as c, open(key, "rb") as k:
        return c.read(), k.read()


def pem_to_der(pem):
    return ssl.PEM_cert_to_DER_cert(pem.decode())


def main():
    checks = Checks()
    tmp = workdir()
    parts = []
    try:
        sim = Sim(tmp, "--shards", str(SHARDS), "--max-concurrency", "2", "--heartbeat-interval", "1000")
        parts.append(sim)
        endpoint = f"ipc://{tmp}/relay.sock"
        metrics_port, webhook_port = free_port(), free_port()
        cert_path, key_path = f"{tmp}/webhook.crt", f"{tmp}/webhook.key"
        first = certificate_pem(tmp, "first")
        second = certificate_pem(tmp, "second")

        def install(cert_pem, key_pem):
            # As a renewal tool does: new files under the configured names.
            for path, data in ((cert_path, cert_pem), (key_path, key_pem)):
                with open(path + ".new", "wb") as f:
                    f.write(data)
                os.replace(path + ".new", path)
        install(*first)

        def config(prefix, level="debug", log_format="text", sndhwm=100000, extra_publish=""):
            text = relay_config(sim, endpoint, f"{tmp}/state")
            text = text.replace("[publish]\n", f'[publish]\ntopic_prefix = "{prefix}"\nsndhwm = {sndhwm}\n'
                                              f"{extra_publish}")
            text = text.replace('level = "debug"', f'level = "{level}"\nformat = "{log_format}"')
            return text + f"""
[webhook]
enabled = true
listen = "127.0.0.1:{webhook_port}"
tls_cert = "{cert_path}"
tls_key = "{key_path}"
[metrics]
listen = "127.0.0.1:{metrics_port}"
"""

        relay = Relay(tmp, config("a."))
        parts.insert(0, relay)
        subscriber = Subscriber(endpoint)
        parts.append(subscriber)
        def shards_up():
            try:
                values = metrics(metrics_port)
            except AssertionError:  # not listening yet
                return False
            return all(values.get(("qq_relay_shard_up", f'shard="{i}"')) == 1 for i in range(SHARDS))
        wait_for(shards_up, 20, "both shards ready")
        subscriber.sync(sim)
        connects_at_start = len(sim.get("/_sim/log")["connects"])

        def reloads():
            values = metrics(metrics_port)
            return {result: values[("qq_relay_config_reloads_total", f'result="{result}"')]
                    for result in ("applied", "invalid")}

        def reload_and_wait(text, result):
            """Sends SIGHUP (after writing `text` as the config, if given) and waits until it is counted."""
            if text is not None:
                with open(relay.config_path, "w") as f:
                    f.write(text)
            before = reloads()
            relay.proc.send_signal(signal.SIGHUP)
            wait_for(lambda: reloads()[result] == before[result] + 1, 10, f"the reload, counted as {result}")

        def generated_events():
            return [(topic, json.loads(body), meta) for topic, body, meta in subscriber.events()
                    if topic.endswith("C2C_MESSAGE_CREATE")]

        def sighup_while_events_flow():
            sim.post("/_sim/generate", {"count": PER_SHARD, "rate": 250, "size": 300})
            wait_for(lambda: len(generated_events()) >= 200, 20, "the stream to start")
            # 1. Valid: live keys apply, a restart-only key is named and not applied.
            reload_and_wait(config("b.", level="info", log_format="json", sndhwm=5000), "applied")
            expect(served_certificate(webhook_port) == pem_to_der(first[0]), "the certificate changed by itself")
            count_after_valid = len(generated_events())
            wait_for(lambda: len(generated_events()) >= count_after_valid + 200, 20, "events after the reload")
            # 2. Invalid: nothing changes, and the error names file, line and key.
            reload_and_wait(config("c.", extra_publish="colour = 1\n"), "invalid")
            # 3. A renewed certificate under the same paths is served to new connections (with the valid file
            # back: a SIGHUP with an invalid file changes nothing, the certificate included).
            install(*second)
            reload_and_wait(config("b.", level="info", log_format="json", sndhwm=5000), "applied")
            expect(served_certificate(webhook_port) == pem_to_der(second[0]), "the renewed certificate is not served")
            # 4. A renewal gone wrong (the key of another certificate) is refused; the old one stays.
            install(first[0], second[1])
            reload_and_wait(None, "applied")
            expect(served_certificate(webhook_port) == pem_to_der(second[0]), "a mismatched pair replaced the cert")
            # The stream goes on to its end.
            wait_for(lambda: len(generated_events()) >= SHARDS * PER_SHARD, 60,
                     f"{SHARDS * PER_SHARD} events (got {len(generated_events())})")
        checks.run("four SIGHUPs while 3000 events flow", sighup_while_events_flow)

        def nothing_lost_or_repeated():
            for shard in range(SHARDS):  # a probe behind the last event of each shard: anything repeated is in
                subscriber.sync(sim, shard)
            events = generated_events()
            for shard in range(SHARDS):
                got = [d["d"]["seq_no"] for _, d, meta in events if meta["shard"][0] == shard]
                expect(got == list(range(1, PER_SHARD + 1)),
                       f"shard {shard}: {len(got)} events, first gaps/repeats near "
                       f"{[b for a, b in zip(got, got[1:]) if b != a + 1][:5]}")
            seqs = [meta["relay_seq"] for _, _, meta in subscriber.events()]
            expect(seqs == list(range(seqs[0], seqs[0] + len(seqs))), "relay_seq has a gap or a repeat")
        checks.run("every event exactly once and in order, relay_seq without a gap", nothing_lost_or_repeated)

        def no_connection_dropped():
            log = sim.get("/_sim/log")
            expect(len(log["connects"]) == connects_at_start and log["closes"] == [],
                   f"gateway connections: {len(log['connects'])} connects, closes {log['closes']}")
            values = metrics(metrics_port)
            expect(values[("qq_relay_disconnects_total", "")] == 0, "the relay counted a disconnect")
        checks.run("no gateway connection was closed or reopened", no_connection_dropped)

        def topics_follow_the_prefix():
            topics = [topic for topic, _, _ in generated_events()]
            prefixes = [t.split("C2C_MESSAGE_CREATE")[0] for t in topics]
            switch = prefixes.index("b.")
            expect(switch > 0 and set(prefixes[:switch]) == {"a."} and set(prefixes[switch:]) == {"b."},
                   f"prefixes in order: {sorted(set(prefixes))}, switch at {switch}")
        checks.run("the topic prefix changed once, at the valid reload, never to the invalid one",
                   topics_follow_the_prefix)

        def logs_say_what_happened():
            text = relay.log_text()
            expect("changed but not applied until a restart: publish.sndhwm" in text, "restart keys not named")
            expect("TLS certificate re-read" in text and "valid until" in text, "the renewal is not logged")
            expect("keeping the webhook's current TLS certificate: the private key" in text
                   and "does not match the certificate" in text,
                   "the refused renewal is not logged with its reason")
            # The invalid file's error names file:line and the key, as at start.
            error = next(line for line in text.splitlines() if "is not valid" in line)
            expect(f"{relay.config_path}:" in error and "publish.colour: unknown key" in error, error)
            # After the valid reload the lines are JSON objects, and debug lines stopped (level info).
            json_lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
            expect(json_lines and all({"time", "level", "msg"} <= set(o) for o in json_lines), "no JSON lines")
            expect(not any(o["level"] == "debug" for o in json_lines), "debug lines after log.level = info")
            reloaded = [o["msg"] for o in json_lines if "configuration reloaded" in o["msg"]]
            expect(reloaded, "the reloads after the switch to JSON are not logged as JSON")
            values = metrics(metrics_port)
            expect(values[("qq_relay_config_reloads_total", 'result="applied"')] == 3, "applied reloads")
            expect(values[("qq_relay_config_reloads_total", 'result="invalid"')] == 1, "refused reloads")
        checks.run("logs and metrics tell each reload apart", logs_say_what_happened)

        def renewed_chain_is_served():
            # root -> intermediate -> leaf, the certificate file holding leaf and intermediate: a client that
            # trusts only the root verifies the listener only if the intermediate is served too.
            def run(*args):
                subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=tmp)
            ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
            run("req", "-x509", *ec, "-keyout", "root.key", "-out", "root.crt", "-days", "1", "-subj", "/CN=root",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign")
            run("req", *ec, "-keyout", "mid.key", "-out", "mid.csr", "-subj", "/CN=intermediate")
            with open(f"{tmp}/ca.ext", "w") as f:
                f.write("basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign\n")
            run("x509", "-req", "-in", "mid.csr", "-CA", "root.crt", "-CAkey", "root.key", "-CAcreateserial",
                "-out", "mid.crt", "-days", "1", "-extfile", "ca.ext")
            run("req", *ec, "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=localhost")
            run("x509", "-req", "-in", "leaf.csr", "-CA", "mid.crt", "-CAkey", "mid.key", "-CAcreateserial",
                "-out", "leaf.crt", "-days", "1")
            trusting_root = ssl.create_default_context(cafile=f"{tmp}/root.crt")
            trusting_root.check_hostname = False

            def verifies():
                try:
                    with socket.create_connection(("127.0.0.1", webhook_port), timeout=5) as raw:
                        with trusting_root.wrap_socket(raw):
                            return True
                except ssl.SSLCertVerificationError:
                    return False
            expect(not verifies(), "the self-signed certificate verified against an unrelated root")
            with open(f"{tmp}/leaf.crt", "rb") as leaf, open(f"{tmp}/mid.crt", "rb") as mid, \
                    open(f"{tmp}/leaf.key", "rb") as key:
                install(leaf.read() + mid.read(), key.read())
            reload_and_wait(None, "applied")
            expect(verifies(), "the renewed chain (leaf + intermediate) does not verify against its root")
        checks.run("a renewed certificate chain is served whole", renewed_chain_is_served)

        def webhook_still_serves():
            client = WebhookClient(webhook_port, tls=True)
            body = b'{"op":0,"id":"reload-1","t":"GROUP_AT_MESSAGE_CREATE","d":{"content":"after"}}'
            expect(client.post(body) == (200, b'{"op":12,"d":0}'), "the HTTPS webhook stopped answering")
            wait_for(lambda: any(b == body for _, b, _ in subscriber.snapshot()), 10, "the webhook event")
            expect(relay.stop() == 0, "exit code")
        checks.run("the HTTPS webhook answers after the reloads, and the relay stops cleanly", webhook_still_serves)
    finally:
        tear_down(checks, tmp, *parts)
    checks.finish()


if __name__ == "__main__":
    main()
