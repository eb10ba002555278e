#!/usr/bin/python3
"""Secrets never reach the log, even at the trace level (where libwebsockets' own lines are routed too): not the
AppSecret, not a changed AppSecret named by a reload, not the static bot token, not any access token the relay
was given, across token refreshes, resumes, webhooks and SIGHUP."""
import json
import signal

from harness import Checks, Relay, Sim, Subscriber, expect, relay_config, tear_down, wait_for, workdir
from webhook_client import WebhookClient, free_port

SECRET = "sim-secret-4b1d"
CHANGED_SECRET = "rotated-secret-77aa"
BOT_TOKEN = "static-token-9c3e"


def tokens_seen_by(sim):
    """Every token the relay presented in Identify and Resume."""
    tokens = set()
    for entry in sim.get("/_sim/log")["received"]:
        try:
            frame = json.loads(entry["frame"])
        except ValueError:
            continue
        if frame.get("op") in (2, 6):
            tokens.add(frame["d"]["token"].split(" ", 1)[-1])
    return tokens


def main():
    checks = Checks()
    tmp = workdir()
    parts = []
    try:
        def access_tokens():
            # 60 s tokens: every token request returns a new one, and the relay refreshes them early.
            sim = Sim(tmp, "--secret", SECRET, "--token-ttl", "60", "--heartbeat-interval", "1000")
            parts.append(sim)
            webhook_port = free_port()
            config = relay_config(sim, f"ipc://{tmp}/relay.sock", f"{tmp}/state", secret=SECRET)
            config = config.replace('level = "debug"', 'level = "trace"')
            config += f'[webhook]\nenabled = true\nlisten = "127.0.0.1:{webhook_port}"\n'
            relay = Relay(tmp, config)
            parts.insert(0, relay)
            subscriber = Subscriber(f"ipc://{tmp}/relay.sock")
            parts.append(subscriber)
            wait_for(lambda: "ready" in relay.log_text(), 20, "a ready shard")
            subscriber.sync(sim)
            sim.post("/_sim/generate", {"count": 50, "rate": 0, "size": 300})
            # Every token dies, then op 7: the Resume carries the dead token, is refused (4004), and the relay
            # fetches a new one and resumes with it. In this order, not the reverse: a Resume could beat the
            # expiry and need no new token.
            sim.post("/_sim/fault", {"kind": "expire_token"})
            sim.post("/_sim/fault", {"shard": 0, "kind": "reconnect"})
            client = WebhookClient(webhook_port, secret=SECRET)
            body = b'{"op":0,"id":"secret-test","t":"GROUP_AT_MESSAGE_CREATE","d":{"content":"hi"}}'
            expect(client.post(body)[0] == 200, "the signed webhook was refused")
            with open(relay.config_path) as f:
                text = f.read()
            with open(relay.config_path, "w") as f:
                f.write(text.replace(SECRET, CHANGED_SECRET))
            relay.proc.send_signal(signal.SIGHUP)
            wait_for(lambda: "not applied until a restart: bot.client_secret" in relay.log_text(), 10,
                     "the reload naming the changed secret")
            wait_for(lambda: sim.get("/_sim/state")["resumes"] >= 1, 20, "a resume")
            # The resumed session relays (a probe through it), and the webhook event is out: all of it is logged.
            subscriber.sync(sim)
            wait_for(lambda: any(m["event_id"] == "secret-test" for _, _, m in subscriber.events()), 10,
                     "the webhook event")
            expect(relay.stop() == 0, "exit code")
            log = relay.log_text()
            expect("lws: " in log, "no libwebsockets line at trace: the check would prove little")
            tokens = tokens_seen_by(sim)
            expect(len(tokens) >= 2, f"expected a refreshed token, saw {len(tokens)}")
            for secret in [SECRET, CHANGED_SECRET, *tokens]:
                expect(secret not in log, f"a secret ({secret[:4]}...) is in the log")
        checks.run("AppSecret, a rotated AppSecret and every access token stay out of a trace log", access_tokens)

        def static_token():
            sim = Sim(tmp, "--bot-token", BOT_TOKEN)
            parts.append(sim)
            config = relay_config(sim, f"ipc://{tmp}/static.sock", f"{tmp}/static-state")
            config = config.replace(f'client_secret = "sim-secret"', f'token = "{BOT_TOKEN}"')
            config = config.replace('level = "debug"', 'level = "trace"')
            relay = Relay(tmp, config, name="relay-static")
            parts.insert(0, relay)
            wait_for(lambda: "ready" in relay.log_text(), 20, "a ready shard")
            expect(relay.stop() == 0, "exit code")
            expect(BOT_TOKEN not in relay.log_text(), "the static bot token is in the log")
        checks.run("the static bot token stays out of a trace log", static_token)

        def token_error_bodies():
            # The token endpoint (or a proxy before it) answers 401 with an error page that quotes the request,
            # clientSecret included, and goes on for 5000 bytes and a line break. The log keeps a short,
            # single-line excerpt without the secret.
            sim = Sim(tmp, "--secret", SECRET)
            parts.append(sim)
            page = "<html>\r\nforged log line" + "x" * 5000 + "</html>"
            sim.post("/_sim/fault", {"kind": "token_outage", "count": 1, "status": 401, "body": page,
                                     "echo_request": True})
            config = relay_config(sim, f"ipc://{tmp}/bodies.sock", f"{tmp}/bodies-state", secret=SECRET)
            relay = Relay(tmp, config, name="relay-bodies")
            parts.insert(0, relay)
            wait_for(lambda: "ready" in relay.log_text(), 20, "a ready shard once the endpoint answers")
            expect(relay.stop() == 0, "exit code")
            log = relay.log_text()
            refusals = [line for line in log.splitlines() if "refused the credentials" in line]
            expect(len(refusals) == 1, f"expected one refusal line, got {refusals}")
            expect("x" * 201 not in log, "more than 200 bytes of the error page are in the log")
            expect(" bytes)" in refusals[0] and "xxxx" in refusals[0], f"no marked excerpt: {refusals[0]}")
            expect(not any(line.startswith("forged") for line in log.splitlines()), "the body forged a log line")
            expect(SECRET not in log, "the secret echoed by the token endpoint is in the log")
            expect("[secret]" in refusals[0], f"the echoed secret is not shown redacted: {refusals[0]}")
        checks.run("a token endpoint's error body is logged short, on one line and without the secret",
                   token_error_bodies)
    finally:
        tear_down(checks, tmp, *parts)
    checks.finish()


if __name__ == "__main__":
    main()
