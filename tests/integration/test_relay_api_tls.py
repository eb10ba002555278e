#!/usr/bin/python3
"""The OpenAPI forwarder over HTTPS (api.tls_cert / api.tls_key): Python's ssl and curl (clients no one here
wrote) reach the platform through it with a certificate they trust; keep-alive and a 2 MiB upload work over TLS;
a plain-HTTP client or a TLS garbage handshake is closed without harming the listener; SIGHUP re-reads the
certificate for new connections; a renewal that does not load keeps the old one.
Environment: QQ_RELAY_BIN, QQ_SIM_BIN.
"""
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess

from harness import Checks, Relay, Sim, expect, relay_config, tear_down, wait_for, workdir
from tls_certs import make_certificate, served_certificate
from metrics_client import metrics
from webhook_client import accepts_connections, free_port

KEY = "t" * 24 + "-tls-client-key-012345"


def main():
    checks = Checks()
    tmp = workdir()
    sim = Sim(tmp, "--shards", "1")
    api_port, metrics_port = free_port(), free_port()
    first_cert, first_key = make_certificate(tmp, "first")
    shutil.copy(first_cert, f"{tmp}/api.crt")
    shutil.copy(first_key, f"{tmp}/api.key")
    with open(f"{tmp}/clients", "w") as f:
        f.write(f"tls-bot {KEY}\n")
    relay = Relay(tmp, relay_config(sim, f"ipc://{tmp}/pub.sock", f"{tmp}/state") + f"""
[api]
enabled = true
listen = "127.0.0.1:{api_port}"
tls_cert = "api.crt"
tls_key = "api.key"
clients_file = "clients"
[metrics]
listen = "127.0.0.1:{metrics_port}"
""")

    def reloads_applied():
        return metrics(metrics_port).get(("qq_relay_config_reloads_total", 'result="applied"'), 0)
    context = ssl.create_default_context(cafile=f"{tmp}/api.crt")

    def https(method, path, body=None, connection=None):
        conn = connection or http.client.HTTPSConnection("127.0.0.1", api_port, context=context, timeout=20)
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": "Bearer " + KEY}
        if data is not None:
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=data, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()

    try:
        wait_for(lambda: relay.proc.poll() is not None or accepts_connections(api_port), 30, "the api listener")
        expect(relay.proc.poll() is None, relay.log_text()[-2000:])
        wait_for(lambda: sim.get("/_sim/state")["shards"] and sim.get("/_sim/state")["shards"][0]["connected"], 30,
                 "the shard READY")

        def python_ssl_keep_alive_and_upload():
            conn = http.client.HTTPSConnection("127.0.0.1", api_port, context=context, timeout=20)
            for _ in range(3):  # one TLS connection, kept alive
                status, body = https("GET", "/users/@me", connection=conn)
                expect(status == 200 and json.loads(body)["id"], body)
            upload = {"file_type": 1, "srv_send_msg": False, "file_data": "QUJD" * (512 * 1024)}
            status, body = https("POST", "/v2/groups/G1/files", upload, connection=conn)
            expect(status == 200 and "file_info" in json.loads(body), body)
            conn.close()
            recorded = [e for e in sim.get("/_sim/api/requests")["requests"] if e["path"] == "/v2/groups/G1/files"]
            expect(len(recorded) == 1 and json.loads(recorded[0]["body"]) == upload, "the upload changed")
        checks.run("Python's ssl: three requests on one kept-alive TLS connection and a 2 MiB upload",
                   python_ssl_keep_alive_and_upload)

        def curl_posts():
            if not shutil.which("curl"):
                print("  curl is not installed; skipped", flush=True)
                return
            result = subprocess.run(
                ["curl", "-sS", "--max-time", "20", "--cacert", f"{tmp}/api.crt", "-H", "Authorization: Bearer " + KEY,
                 "-H", "Content-Type: application/json", "--data",
                 json.dumps({"content": "curl", "msg_type": 0, "msg_id": "M-curl"}),
                 f"https://localhost:{api_port}/v2/users/U1/messages"], capture_output=True, text=True, timeout=30)
            expect(result.returncode == 0, result.stderr)
            expect(json.loads(result.stdout)["id"], result.stdout)
        checks.run("curl posts a passive reply over HTTPS", curl_posts)

        def bad_clients_are_closed():
            with socket.create_connection(("127.0.0.1", api_port), timeout=5) as plain:
                plain.sendall(b"GET /users/@me HTTP/1.1\r\nHost: x\r\n\r\n")
                expect(plain.recv(4096) == b"", "a plain-HTTP request was answered on the TLS listener")
            with socket.create_connection(("127.0.0.1", api_port), timeout=5) as garbage:
                garbage.sendall(b"\x16\x03\x01\x00\x05hello" + os.urandom(64))
                try:
                    data = garbage.recv(4096)
                except ConnectionResetError:
                    data = b""
                expect(not data.startswith(b"HTTP"), data)
            status, _ = https("GET", "/users/@me")
            expect(status == 200, "the listener after bad handshakes")
        checks.run("plain HTTP and a garbage handshake are closed; the listener serves the next client",
                   bad_clients_are_closed)

        def sighup_renews_the_certificate():
            before = served_certificate(api_port)
            second_cert, second_key = make_certificate(tmp, "second")
            # A renewal that does not load (a key from another pair) keeps the old certificate.
            shutil.copy(second_cert, f"{tmp}/api.crt")
            relay.proc.send_signal(signal.SIGHUP)
            wait_for(lambda: reloads_applied() == 1, 10, "the first reload")
            expect(served_certificate(api_port) == before, "a mismatched pair was installed")
            shutil.copy(second_key, f"{tmp}/api.key")
            relay.proc.send_signal(signal.SIGHUP)
            renewed = ssl.PEM_cert_to_DER_cert(open(second_cert).read())
            wait_for(lambda: served_certificate(api_port) == renewed, 10, "the renewed certificate served")
        checks.run("SIGHUP re-reads the certificate; a pair that does not match keeps the old one",
                   sighup_renews_the_certificate)
        expect(relay.proc.poll() is None, "the relay died")
    finally:
        tear_down(checks, tmp, relay, sim)
    checks.finish()


if __name__ == "__main__":
    main()
