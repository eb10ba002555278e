#!/usr/bin/python3
"""An echo bot on qq-gateway-relay: events from the relay's ZeroMQ bus, replies through its OpenAPI forwarder.
No AppSecret, no token handling, no msg_seq bookkeeping: the relay does all three (docs/api.md).

    python3 echo_bot.py tcp://127.0.0.1:5555 http://127.0.0.1:8081 KEY

KEY is this bot's line in [api] clients_file (`qq-gateway-relay api-key echo-bot`). Needs python3-zmq.
Each group @-message and C2C message gets two passive replies: the text back, then its length.
"""
import json
import sys
import urllib.request

import zmq

pub, api, key = sys.argv[1:4]


def post(path, body):
    request = urllib.request.Request(api + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Authorization": "Bearer " + key, "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.load(answer)


socket = zmq.Context().socket(zmq.SUB)
for topic in (b"GROUP_AT_MESSAGE_CREATE", b"C2C_MESSAGE_CREATE"):
    socket.setsockopt(zmq.SUBSCRIBE, topic)
socket.connect(pub)
while True:
    topic, body, _metadata = socket.recv_multipart()
    d = json.loads(body)["d"]
    text = d.get("content", "").strip()
    if topic == b"GROUP_AT_MESSAGE_CREATE":
        path = f"/v2/groups/{d['group_openid']}/messages"
    else:
        path = f"/v2/users/{d['author']['user_openid']}/messages"
    for reply in (f"echo: {text}", f"{len(text)} characters"):
        try:
            # msg_id makes it a passive reply; the relay numbers the replies with msg_seq 1, 2, ...
            answer = post(path, {"content": reply, "msg_type": 0, "msg_id": d["id"]})
            print(f"replied to {d['id']}: {reply!r} -> message {answer.get('id')}", flush=True)
        except OSError as error:  # urllib's HTTPError too: one failed reply does not stop the bot
            print(f"reply to {d['id']} failed: {error}", file=sys.stderr, flush=True)
