// qq-official-bot (npm, pinned in package-lock.json, node_modules unmodified) as a gateway client, for tests.
// Usage: node qq-official-bot_gateway.cjs BASE_URL APP_ID SECRET INTENTS [SHARD]   (see driver_io.cjs)
// INTENTS are this SDK's names: GUILDS, PUBLIC_GUILD_MESSAGES, GROUP_AND_C2C_EVENT, DIRECT_MESSAGE...
// SHARD is ignored: this SDK always identifies with shard [0, 1].
//
// Redirection (at run time, through the SDK's own objects, nothing patched on disk):
// - every OpenAPI call and GET /gateway/bot go through the SDK's axios instance `bot.request`, whose baseURL
//   (https://api.sgroup.qq.com, or sandbox.api.sgroup.qq.com) is set to BASE_URL;
// - the token exchange POSTs to the absolute https://bots.qq.com/app/getAppAccessToken through the same
//   instance: a request interceptor on `bot.request` rewrites that prefix to BASE_URL;
// - the WebSocket URL is the `url` that GET /gateway/bot returns: not redirected.
//
// Observation: the SDK hands events to the bot as `message`, `notice` and `system` events (each dispatch
// emits exactly one of them first); the driver prints one line per such event, with t, id and s of the
// packet it came from (the receiver's own `packet` event, heard first). Lifecycle lines come from wrapping
// methods of the receiver instance: the wrapper prints a line and calls the SDK's method unchanged.
"use strict";
const { Bot } = require("qq-official-bot");
const { parseArgs, emit, serve, RecentEvents } = require("./driver_io.cjs");

const args = parseArgs();
const bot = new Bot({
  appid: args.appid,
  secret: args.secret,
  sandbox: false,
  mode: "websocket",
  intents: args.intents,
  logLevel: process.env.QQ_SDK_LOG_LEVEL || "off",
  timeout: 10000,
});
bot.request.defaults.baseURL = args.base;
bot.request.interceptors.request.use((config) => {
  const tokenHost = "https://bots.qq.com";
  if (config.url && config.url.startsWith(tokenHost)) {
    config.url = args.base + config.url.slice(tokenHost.length);
  }
  return config;
});

const receiver = bot.sessionManager.receiver;
function observe(method, line) {
  const original = receiver[method];
  receiver[method] = function (...callArgs) {
    const printed = line(...callArgs);
    if (printed) emit(printed);
    return original.apply(this, callArgs);
  };
}
observe("connect", () => ({ connecting: { resume: receiver.isReconnect } }));
observe("handleReadyEvent", (packet) => ({
  ready: { session_id: packet.d.session_id, user: packet.d.user, shard: packet.d.shard ?? null, s: packet.s },
}));
observe("handleResumedEvent", () => ({ resumed: { session_id: bot.sessionManager.sessionRecord.sessionID } }));
observe("handleReconnectRequest", () => ({ op: 7 }));
observe("handleInvalidSession", () => ({ op: 9 }));
observe("handleWebSocketClose", (code, reason) => ({ close: { code, reason: String(reason || "") } }));

let packet = null;
receiver.prependListener("packet", (p) => {
  packet = p;
});
const recent = new RecentEvents();
for (const root of ["message", "notice", "system"]) {
  bot.on(root, (event) => {
    const from = packet || {};
    emit({ t: from.t ?? null, id: event.event_id ?? from.id ?? null, s: from.s ?? null, sdk_event: root, d: event });
    recent.add([from.id, from.d && from.d.id, event.message_id], event);
  });
}

serve({
  // {"reply": {"to": <d.id or event id of a received message>, "text": "..."}}: the event's own reply(),
  // which sends a passive reply (msg_id = the message answered) to its channel, group or user.
  async onReply({ to, text }) {
    const event = recent.get(to);
    if (!event) throw new Error(`no received event with id ${to}`);
    if (typeof event.reply !== "function") throw new Error(`event ${to} cannot be replied to with this SDK`);
    return event.reply(text);
  },
  onExit: () => bot.stop(),
});

bot.start().catch((error) => emit({ start_error: String(error && error.message ? error.message : error) }));
