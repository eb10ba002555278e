// qq-guild-bot (the official Node SDK, pinned in package-lock.json here, node_modules unmodified) as a bot that
// only counts the events its handler gets: the in-process reference of tests/bench/sdk_reference.py.
//
// usage: node qq-guild-bot_bench.cjs BASE_URL APP_ID BOT_TOKEN SHARDS [TYPE]
//
// SHARDS clients (createWebsocket with `shards: [i, SHARDS]`) in this one process, as a bot runs its shards.
// The SDK's fixed hosts (api.sgroup.qq.com...) go to BASE_URL through tests/sdk/redirect_hosts.cjs, which
// replaces https.request in this process at run time; the WebSocket URL is the one GET /gateway/bot answers.
//
// TYPE (default C2C_MESSAGE_CREATE, what qq-gateway-sim generates) is the dispatch type counted. The SDK parses
// every dispatch the same way (JSON.parse of the frame, op and s checks) and emits it on its client under the
// intent name of WsEventType[t]; 2.9.5 predates group and C2C events, so for C2C_MESSAGE_CREATE that name is
// `undefined`, and the handler listens there. The work per event is the same as for AT_MESSAGE_CREATE.
//
// stdout: {"ready": SHARDS} once every shard is READY, then one report per measurement. stdin lines:
//   expect N IDLE_S   answers {"expecting": N} and counts the next N events; reports once N have arrived, or
//                     when nothing has arrived for IDLE_S seconds: {"complete", "count", "want", "first_ns",
//                     "last_ns"} (CLOCK_MONOTONIC)
//   quit              exits 0 (so does stdin EOF)
"use strict";
const path = require("path");

for (const level of ["log", "info", "debug", "trace", "warn", "error"]) {
  // The SDK logs with console.*: keep stdout for the reports. Returns undefined like console.* does.
  console[level] = (...parts) => {
    process.stderr.write(parts.map(String).join(" ") + "\n");
  };
}

const [base, appID, token, shardsArg, type = "C2C_MESSAGE_CREATE"] = process.argv.slice(2);
if (!base || !appID || !token || !shardsArg) {
  process.stderr.write("usage: node qq-guild-bot_bench.cjs BASE_URL APP_ID BOT_TOKEN SHARDS [TYPE]\n");
  process.exit(2);
}
require(path.join(__dirname, "..", "..", "sdk", "redirect_hosts.cjs")).install(base.replace(/\/+$/, ""));
const sdk = require("qq-guild-bot");

const shards = Number(shardsArg);
const m = { active: false, want: 0, idleNs: 0n, count: 0, first: 0n, last: 0n, activity: 0n };

function report() {
  m.active = false;
  process.stdout.write(JSON.stringify({ complete: m.count === m.want, count: m.count, want: m.want,
    first_ns: Number(m.first), last_ns: Number(m.last) }) + "\n");
}

function onEvent() {
  if (!m.active) return;
  const now = process.hrtime.bigint();
  if (m.count++ === 0) m.first = now;
  m.last = now;
  m.activity = now;
  if (m.count === m.want) report();
}

const clients = [];
let ready = 0;
for (let i = 0; i < shards; ++i) {
  const config = { appID, token, intents: ["PUBLIC_GUILD_MESSAGES"], sandbox: false, shards: [i, shards] };
  const client = sdk.createWebsocket(config);
  client.on(sdk.WsEventType[type], onEvent);
  client.once(sdk.SessionEvents.READY, () => {
    if (++ready === shards) process.stdout.write(JSON.stringify({ ready }) + "\n");
  });
  client.on(sdk.SessionEvents.DEAD, (data) => process.stderr.write(`shard ${i} dead: ${data.msg}\n`));
  clients.push(client);
}

setInterval(() => {
  if (m.active && process.hrtime.bigint() - m.activity > m.idleNs) report();
}, 100);

function quit() {
  for (const client of clients) client.disconnect();
  process.exit(0);
}
let pending = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => {
  pending += chunk;
  let eol;
  while ((eol = pending.indexOf("\n")) >= 0) {
    const words = pending.slice(0, eol).trim().split(/\s+/);
    pending = pending.slice(eol + 1);
    if (words[0] === "quit") quit();
    if (words[0] === "expect") {
      Object.assign(m, { active: true, want: Number(words[1]), idleNs: BigInt(Math.round(Number(words[2] || 5) * 1e9)),
        count: 0, first: 0n, last: 0n, activity: process.hrtime.bigint() });
      process.stdout.write(JSON.stringify({ expecting: m.want }) + "\n");
    }
  }
});
process.stdin.on("end", quit);
process.on("SIGTERM", quit);
