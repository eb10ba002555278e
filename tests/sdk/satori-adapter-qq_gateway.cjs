// Koishi's QQ adapter, @satorijs/adapter-qq (npm, pinned in package-lock.json, node_modules unmodified; Koishi
// loads the same package as its `adapter-qq` plugin), as a gateway client, for tests. It runs headless in a bare
// @satorijs/core Context with the HTTP service: no Koishi app, database or console.
// Usage: node satori-adapter-qq_gateway.cjs BASE_URL APP_ID SECRET INTENTS [SHARD]   (see driver_io.cjs)
// INTENTS are the adapter's names (its QQ.Intents): GUILDS, GUILD_MEMBERS, GUILD_MESSAGES,
// GUILD_MESSAGE_REACTIONS, DIRECT_MESSAGES, USER_MESSAGE (group and C2C), INTERACTIONS, PUBLIC_GUILD_MESSAGES...
// SHARD is ignored: the adapter always identifies with shard [0, 1].
// QQ_SDK_AUTH=bot with QQ_SDK_TOKEN=T selects the legacy "Bot APP_ID.T" token instead of the access token.
//
// Redirection, with the framework's own means:
// - the OpenAPI and GET /gateway: the adapter's `endpoint` option (default https://api.sgroup.qq.com/) is
//   BASE_URL/;
// - the token exchange POSTs to the fixed https://bots.qq.com/app/getAppAccessToken through the context's HTTP
//   service, which emits `http/fetch-init` with the URL object before each fetch: a listener here rewrites
//   that URL's scheme and host to BASE_URL's;
// - the WebSocket URL is the `url` of the GET /gateway answer (the adapter would only replace
//   api.sgroup.qq.com in it by the endpoint's host): not redirected.
//
// Observation: the adapter hands every dispatch to the bot as an internal event `qq/<type>` with the raw `d`
// (and, for the types it knows, as a Satori session as well); the driver prints one line per internal event
// (the adapter exposes neither `id` nor `s` there). READY and RESUMED come the same way and are printed as
// lifecycle lines. Connection closes are heard with an extra listener on each socket the adapter opens
// (`bot.http.ws` wrapped: the wrapper only adds the listener).
"use strict";
const { parseArgs, emit, serve, RecentEvents } = require("./driver_io.cjs");
const { Context, HTTP } = require("@satorijs/core");
const { QQBot, QQ } = require("@satorijs/adapter-qq");

const args = parseArgs();
const base = new URL(args.base);
let intents = 0;
for (const name of args.intents) {
  if (QQ.Intents[name] === undefined) throw new Error(`unknown intent ${name}`);
  intents |= QQ.Intents[name];
}

const ctx = new Context();
ctx.plugin(HTTP);
ctx.on("http/fetch-init", (url) => {
  if (url.hostname === "bots.qq.com") {
    url.protocol = base.protocol;
    url.host = base.host;
  }
});

const recent = new RecentEvents();
const toEventType = (internalType) => internalType.slice("qq/".length).toUpperCase().replace(/-/g, "_");
ctx.on("internal/session", (session) => {
  if (session.type === "internal") {
    const internalType = session.event._type;
    if (!internalType.startsWith("qq/")) return;
    const t = toEventType(internalType);
    const d = session.event._data;
    if (t === "READY") emit({ ready: d });
    else if (t === "RESUMED") emit({ resumed: d });
    else emit({ t, id: null, s: null, sdk_event: internalType, d });
  } else if (session.messageId) {
    // The Satori session of a message: what a Koishi bot answers (session.send()).
    recent.add([session.messageId, session.event._data && session.event._data.id], session);
  }
});

const legacy = process.env.QQ_SDK_AUTH === "bot";
ctx.plugin(QQBot, {
  id: args.appid,
  secret: args.secret,
  token: legacy ? process.env.QQ_SDK_TOKEN : undefined,
  authType: legacy ? "bot" : "bearer",
  type: "public",
  sandbox: false,
  endpoint: args.base + "/",
  intents,
  protocol: "websocket",
  retryWhen: [],
});

function watchSockets(bot) {
  const open = bot.http.ws.bind(bot.http);
  bot.http.ws = (url, init) => {
    emit({ connecting: { url: String(url) } });
    const socket = open(url, init);
    socket.addEventListener("close", (event) => emit({ close: { code: event.code, reason: String(event.reason || "") } }));
    return socket;
  };
}

serve({
  // {"reply": {"to": <d.id of a received message>, "text": "..."}}: bot.sendMessage with the session, a passive reply (msg_id =
  // the message answered, msg_seq counted by the adapter) to the channel, group or user it came from.
  async onReply({ to, text }) {
    const session = recent.get(to);
    if (!session) throw new Error(`no received message with id ${to}`);
    // What Koishi's session.send() does (a bare Satori session has no send()).
    return session.bot.sendMessage(session.channelId, text, session.guildId, { session });
  },
  onExit: () => ctx.stop(),
});

// The bot exists once the plugin is applied; its WebSocket opens after the context starts.
const bot = ctx.bots[0];
if (bot) watchSockets(bot);
else emit({ error: "the adapter created no bot" });
ctx.start().catch((error) => emit({ start_error: String(error && error.message ? error.message : error) }));
