#!/usr/bin/env node
// An echo bot on qq-gateway-relay: events from the relay's ZeroMQ bus, replies through its OpenAPI forwarder.
// No AppSecret, no token handling, no msg_seq bookkeeping: the relay does all three (docs/api.md).
//
//   node echo_bot.mjs tcp://127.0.0.1:5555 http://127.0.0.1:8081 KEY
//
// KEY is this bot's line in [api] clients_file (`qq-gateway-relay api-key echo-bot`). Needs the npm package
// zeromq v6 and Node 18 or later (fetch). Each group @-message and C2C message gets two passive replies: the
// text back, then its length.
import * as zmq from "zeromq";

const [pub, api, key] = process.argv.slice(2);

async function post(path, body) {
  const answer = await fetch(api + path, {
    method: "POST",
    headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!answer.ok) throw new Error(`${answer.status} ${await answer.text()}`);
  return answer.json();
}

const socket = new zmq.Subscriber();
socket.subscribe("GROUP_AT_MESSAGE_CREATE", "C2C_MESSAGE_CREATE");
socket.connect(pub);
for await (const [topic, body] of socket) {
  const d = JSON.parse(body.toString("utf8")).d;
  const text = (d.content ?? "").trim();
  const path = topic.toString() === "GROUP_AT_MESSAGE_CREATE"
    ? `/v2/groups/${d.group_openid}/messages`
    : `/v2/users/${d.author.user_openid}/messages`;
  for (const reply of [`echo: ${text}`, `${[...text].length} characters`]) {
    try {
      // msg_id makes it a passive reply; the relay numbers the replies with msg_seq 1, 2, ...
      const answer = await post(path, { content: reply, msg_type: 0, msg_id: d.id });
      console.log(`replied to ${d.id}: ${JSON.stringify(reply)} -> message ${answer.id}`);
    } catch (error) {
      console.error(`reply to ${d.id} failed: ${error.message}`); // one failed reply does not stop the bot
    }
  }
}
