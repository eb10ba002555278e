#!/usr/bin/python3
"""The gateway the relay serves to SDK bots on its [api] listener (docs/downstream.md), driven by Python's
`websockets` client: GET /gateway(/bot) answered by the relay, Hello/Identify/READY with the bot's own user,
every event of the client's intents (from the gateway and from webhooks) with only `s` changed from the bytes
on the bus, Resume after a dropped connection and after a relay restart with every missed event exactly once,
shards splitting the events, a slow client closed with 4009 and resumed without a loss, the platform's close
codes, and the metrics.
Environment: QQ_RELAY_BIN, QQ_SIM_BIN.
"""
import http.client
import json
import os
import re

from gateway_client import GatewayClient
from harness import Checks, Relay, Sim, Subscriber, expect, relay_config, tear_down, wait_for, workdir
from metrics_client import metrics
from webhook_client import WebhookClient, accepts_connections, free_port

KEY = "k" * 20 + "-sdk-bot-key-0123456789"
OTHER_KEY = "o" * 20 + "-other-bot-key-01234567"
GROUP_AND_C2C_EVENT = 1 << 25
PUBLIC_GUILD_MESSAGES = 1 << 30
GUILDS = 1


def get(port, path, key=KEY, host=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        if host:
            headers["Host"] = host
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def as_on_bus(text, body):
    """The frame a client got, with its s put back as the bus has it (or taken out, for a webhook event
    without one): equal to the bus's bytes when only s differs."""
    s = json.loads(text)["s"]
    original = json.loads(body).get("s")
    if original is None:
        return text.replace(f'"s":{s},', "", 1)
    return text.replace(f'"s":{s}', f'"s":{original}', 1)


def s_of(texts):
    return [json.loads(text)["s"] for text in texts]


def event_id(text):
    return json.loads(text)["id"]


def main():
    checks = Checks()
    tmp = workdir()
    sim = Sim(tmp, "--shards", "1", "--heartbeat-interval", "1000")
    api_port = free_port()
    webhook_port = free_port()
    metrics_port = free_port()
    clients_file = os.path.join(tmp, "clients")
    with open(clients_file, "w") as f:
        f.write(f"sdk-bot {KEY}\nother-bot {OTHER_KEY}\n")
    endpoint = f"ipc://{tmp}/pub.sock"
    config = relay_config(sim, endpoint, f"{tmp}/state") + f"""
[publish]
journal = true
[api]
enabled = true
listen = "127.0.0.1:{api_port}"
clients_file = "{clients_file}"
heartbeat_interval = 30000
max_client_buffer = 65536
[webhook]
enabled = true
listen = "127.0.0.1:{webhook_port}"
[metrics]
listen = "127.0.0.1:{metrics_port}"
"""
    # relay_config has a [publish] section already: merge the journal into it.
    config = config.replace("[publish]\njournal = true\n", "").replace("[publish]\n", "[publish]\njournal = true\n", 1)
    subscriber = Subscriber(endpoint)
    relay = Relay(tmp, config)
    url = f"ws://127.0.0.1:{api_port}/websocket"
    token = f"Bot 102000000.{KEY}"
    clients = []
    parts = [subscriber, relay, sim]

    def connect(**kwargs):
        client = GatewayClient(url, **kwargs)
        clients.append(client)
        return client

    def generate(count):
        before = len([1 for t, _, _ in subscriber.events() if t == "C2C_MESSAGE_CREATE"])
        sim.post("/_sim/generate", {"count": count, "rate": 0})
        wait_for(lambda: len([1 for t, _, _ in subscriber.events() if t == "C2C_MESSAGE_CREATE"]) >= before + count,
                 30, f"{count} generated events on the bus")

    def bus_bodies(event_type="C2C_MESSAGE_CREATE"):
        return [body.decode() for t, body, _ in subscriber.events() if t == event_type]

    def read_events(client, count, timeout=20):
        events = []
        while len(events) < count:
            text = client.recv_text(timeout)
            if json.loads(text).get("op") == 0:
                events.append(text)
        return events

    try:
        wait_for(lambda: [s["connected"] for s in sim.get("/_sim/state")["shards"]] == [True], 30, "the relay's shard READY")
        wait_for(lambda: accepts_connections(api_port), 10, "the API listener")
        subscriber.sync(sim, 0)

        def gateway_answers():
            status, body = get(api_port, "/gateway/bot")
            expect(status == 200, f"{status} {body}")
            answer = json.loads(body)
            expect(answer["url"] == f"ws://127.0.0.1:{api_port}/websocket", answer)
            expect(answer["shards"] == 1, answer)
            expect(answer["session_start_limit"]["remaining"] == answer["session_start_limit"]["total"], answer)
            status, body = get(api_port, "/gateway", host="relay.lan:443")
            expect(status == 200 and json.loads(body) == {"url": "ws://relay.lan:443/websocket"}, body)
            status, _ = get(api_port, "/gateway/bot", key=None)
            expect(status == 401, f"no key: {status}")
            asked = [r["path"] for r in sim.get("/_sim/api/requests")["requests"]]
            expect(not [path for path in asked if path.startswith("/gateway")], f"the platform was asked: {asked}")
        checks.run("GET /gateway and /gateway/bot are answered by the relay itself", gateway_answers)

        state = {}

        def identify_and_receive():
            client = connect()
            ready = client.identify(token, GROUP_AND_C2C_EVENT | PUBLIC_GUILD_MESSAGES)
            expect(ready["s"] == 1 and ready["d"]["version"] == 1 and ready["d"]["shard"] == [0, 1], ready)
            expect(ready["d"]["user"].get("bot") is True and ready["d"]["user"].get("id"), ready)
            generate(5)
            sim.post("/_sim/send", {"shard": 0, "t": "GUILD_CREATE", "d": {"id": "1", "name": "not asked for"}})
            sim.post("/_sim/send", {"shard": 0, "t": "AT_MESSAGE_CREATE", "d": {"guild_id": "1", "content": "x"}})
            webhook = WebhookClient(webhook_port)
            event = ('{"op":0,"id":"GROUP_AT_MESSAGE_CREATE:w1","t":"GROUP_AT_MESSAGE_CREATE","d":{"content":'
                     '"你好 webhook","group_openid":"G1","id":"ROBOT1.0_x","timestamp":"2026-11-26T21:00:00+08:00"}}')
            status, _ = webhook.post(event.encode())
            expect(status == 200, f"webhook {status}")
            received = read_events(client, 7)
            expect(s_of(received) == list(range(2, 9)), s_of(received))
            bus = bus_bodies()[-5:]
            expect([as_on_bus(text, body) for text, body in zip(received[:5], bus)] == bus,
                   "a gateway event changed beyond s")
            expect(json.loads(received[5])["t"] == "AT_MESSAGE_CREATE", received[5])
            expect(as_on_bus(received[6], event) == event, f"the webhook event: {received[6]}")
            state.update(client=client, session_id=ready["d"]["session_id"], last_s=8)
        checks.run("Identify gets READY, then every event of its intents (gateway and webhook) with only s changed",
                   identify_and_receive)

        def heartbeat_acked():
            client = state["client"]
            client.send({"op": 1, "d": state["last_s"]})
            expect(client.recv() == {"op": 11}, "no op 11")
        checks.run("a heartbeat is answered with op 11", heartbeat_acked)

        def resume_after_drop():
            state["client"].drop()
            generate(7)
            client = connect()
            client.resume(token, state["session_id"], state["last_s"])
            received = read_events(client, 8)
            expect(json.loads(received[-1])["t"] == "RESUMED", received[-1])
            expect(s_of(received[:-1]) == list(range(9, 16)), s_of(received[:-1]))
            bus = bus_bodies()[-7:]
            expect([as_on_bus(text, body) for text, body in zip(received[:-1], bus)] == bus,
                   "missed events differ from the bus")
            state.update(client=client, last_s=15)
        checks.run("a Resume after a dropped connection gets every missed event once, in order, then RESUMED",
                   resume_after_drop)

        def restart_keeps_sessions():
            nonlocal relay
            client = state["client"]
            relay.stop()
            texts, code = client.until_closed()
            expect([json.loads(t)["op"] for t in texts] == [7], texts)
            expect(code == 4009, f"close {code}")
            relay = Relay(tmp, config, name="relay2")
            parts[1] = relay
            wait_for(lambda: [s["connected"] for s in sim.get("/_sim/state")["shards"]] == [True], 30, "the restarted relay READY")
            wait_for(lambda: accepts_connections(api_port), 10, "the API listener again")
            subscriber.sync(sim, 0)
            generate(3)
            client = connect()
            client.resume(token, state["session_id"], state["last_s"])
            received = []
            while not received or json.loads(received[-1]).get("t") != "RESUMED":
                received.append(client.recv_text())
            # The probes the test's subscriber sent after the restart are there too: an event type no intent
            # lists goes to every session (docs/downstream.md).
            generated = [text for text in received if json.loads(text).get("t") == "C2C_MESSAGE_CREATE"]
            expect(s_of(received[:-1]) == list(range(16, 16 + len(received) - 1)), s_of(received[:-1]))
            expect(len(generated) == 3, f"{len(generated)} generated events after the restart")
            bus = bus_bodies()[-3:]
            expect([as_on_bus(text, body) for text, body in zip(generated, bus)] == bus,
                   "events differ from the bus")
            last = s_of(received[:-1])[-1]
            state.update(client=client, last_s=last)
        checks.run("a relay restart sends op 7 and 4009, and the session resumes on the next process",
                   restart_keeps_sessions)

        def shards_split_events():
            first = connect()
            second = connect()
            first.identify(f"Bearer {KEY}", GROUP_AND_C2C_EVENT, (0, 2))
            second.identify(f"Bearer {KEY}", GROUP_AND_C2C_EVENT, (1, 2))
            # One conversation stays on one shard: 40 groups, so that both shards get some.
            for n in range(40):
                sim.post("/_sim/send", {"shard": 0, "t": "GROUP_AT_MESSAGE_CREATE",
                                        "d": {"group_openid": f"GROUP{n:04}", "content": f"n{n}"}})
            wait_for(lambda: len(bus_bodies("GROUP_AT_MESSAGE_CREATE")) >= 41, 20, "40 group messages on the bus")
            generated = bus_bodies("GROUP_AT_MESSAGE_CREATE")[-40:]
            # Each generated event goes to exactly one of the two: wait until all 40 are accounted for.
            got = {0: [], 1: []}

            def drain(client, index):
                try:
                    while True:
                        text = client.recv_text(0.3)
                        if json.loads(text).get("op") == 0:
                            got[index].append(event_id(text))
                except TimeoutError:
                    pass
            wait_for(lambda: (drain(first, 0), drain(second, 1),
                              len(got[0]) + len(got[1]) >= 40)[-1], 20, "40 events over two shards")
            expect(sorted(got[0] + got[1]) == sorted(event_id(body) for body in generated),
                   "the shards do not split the events exactly")
            expect(got[0] and got[1], f"one shard got nothing: {len(got[0])} / {len(got[1])}")
            first.close()
            second.close()
        checks.run("two shards [0,2] and [1,2] split the events: each exactly once", shards_split_events)

        def slow_client_resumes():
            slow = connect(max_queue=1, read_limit=1024)
            ready = slow.identify(token, GROUP_AND_C2C_EVENT)
            sim.post("/_sim/generate", {"count": 3000, "rate": 0, "size": 2000})
            wait_for(lambda: metrics(metrics_port).get(("qq_relay_downstream_buffer_overflows_total", ""), 0) >= 1,
                     30, "the slow client closed for its buffer")
            texts, code = slow.until_closed()
            expect(code == 4009, f"close {code}")
            seen = [json.loads(t)["s"] for t in texts if json.loads(t).get("op") == 0 and "s" in json.loads(t)]
            last = max([s for s in seen if s > 1] or [1])
            client = connect()
            client.resume(token, ready["d"]["session_id"], last)
            # Everything from last+1 on, up to RESUMED, then nothing lost: 3000 generated in all.
            events = []
            while True:
                frame = json.loads(client.recv_text(20))
                if frame.get("t") == "RESUMED":
                    break
                if frame.get("op") == 0:
                    events.append(frame["s"])
            expect(events == list(range(last + 1, 3002)), f"{len(events)} events after {last}")
            client.close()
        checks.run("a client that reads too slowly is closed with 4009 and resumes without a loss",
                   slow_client_resumes)

        def close_codes():
            cases = [({"op": 2, "d": {"token": "QQBot nobody", "intents": GUILDS}}, 4004),
                     ({"op": 2, "d": {"token": token, "intents": 1 << 3}}, 4013),
                     ({"op": 2, "d": {"token": token, "intents": GUILDS, "shard": [3, 2]}}, 4010),
                     ({"op": 6, "d": {"token": token, "session_id": state["session_id"], "seq": 0}}, 4007),
                     ({"op": 4, "d": {}}, 4001)]
            for frame, expected in cases:
                client = connect()
                expect(client.recv()["op"] == 10, "no Hello")
                client.send(frame)
                _, code = client.until_closed()
                expect(code == expected, f"{frame}: {code}, not {expected}")
            client = connect()
            client.recv()
            client.send({"op": 6, "d": {"token": token, "session_id": "no-such-session", "seq": 1}})
            expect(client.recv() == {"op": 9, "d": False}, "no op 9 for an unknown session")
        checks.run("the platform's close codes for a client's faults, and op 9 for an unknown session", close_codes)

        def metrics_and_logs():
            values = metrics(metrics_port)
            # Counted since the restart: the resume after it and the slow client's.
            expect(values[("qq_relay_downstream_resumes_total", "")] >= 2, "resumes not counted")
            expect(values[("qq_relay_downstream_closes_total", 'code="4004"')] >= 1, "4004 not counted")
            expect(values[("qq_relay_downstream_events_sent_total", "")] > 3000, "events sent")
            log = relay.log_text() + open(os.path.join(tmp, "relay.log")).read()
            expect(re.search(r"session \w+ started for client sdk-bot \(intents GROUP_AND_C2C_EVENT", log),
                   "no start line naming the client")
            expect(re.search(r"client sdk-bot resumes session \w+ after s=", log), "no resume line")
            expect(KEY not in log and KEY[:24] not in log, "a key was logged")
        checks.run("metrics count sessions, resumes, closes and events; no key is logged", metrics_and_logs)

        def webhook_only_relay():
            """No gateway connection, so no READY from the platform: READY names the bot from /users/@me, and
            webhook events reach an SDK bot that never had a gateway session of its own."""
            port = free_port()
            hook_port = free_port()
            text = relay_config(sim, f"ipc://{tmp}/pub2.sock", f"{tmp}/state2") + f"""
[api]
enabled = true
listen = "127.0.0.1:{port}"
clients_file = "{clients_file}"
[webhook]
enabled = true
listen = "127.0.0.1:{hook_port}"
"""
            text = text.replace("[gateway]\n", "[gateway]\nenabled = false\n", 1)
            hooked = Relay(tmp, text, name="relay-webhook-only")
            parts.append(hooked)
            wait_for(lambda: accepts_connections(port), 10, "the webhook-only relay's API listener")

            def ready_user():
                client = GatewayClient(f"ws://127.0.0.1:{port}/websocket")
                clients.append(client)
                user = client.identify(token, GROUP_AND_C2C_EVENT)["d"]["user"]
                if user.get("id"):
                    expect(user["username"] == "sim-bot" and user["bot"] is True, user)
                    return client
                client.close()
            client = wait_for(ready_user, 20, "READY with the bot's id from /users/@me")
            event = ('{"op":0,"id":"C2C_MESSAGE_CREATE:w2","t":"C2C_MESSAGE_CREATE","d":{"content":"hi",'
                     '"author":{"user_openid":"U1"},"id":"m2","timestamp":"2026-12-06T10:00:00+08:00"}}')
            status, _ = WebhookClient(hook_port).post(event.encode())
            expect(status == 200, f"webhook {status}")
            received = read_events(client, 1)
            expect(as_on_bus(received[0], event) == event and json.loads(received[0])["s"] == 2, received)
            expect("from /users/@me" in hooked.log_text(), "no log line about /users/@me")
        checks.run("a relay with webhooks only names the bot from /users/@me and serves webhook events",
                   webhook_only_relay)
    except BaseException:
        checks.failed += 1  # keep the logs
        raise
    finally:
        for client in clients:
            try:
                client.close()
            except Exception:
                pass
        tear_down(checks, tmp, *parts)
    checks.finish()


if __name__ == "__main__":
    main()
