// qq-guild-bot, the official Node SDK (npm, pinned in package-lock.json, node_modules unmodified), as a
// gateway client, for tests.
// Usage: node qq-guild-bot_gateway.cjs BASE_URL APP_ID BOT_TOKEN INTENTS [SHARD]   (see driver_io.cjs)
// The SDK knows only the legacy static token: it sends "Bot APP_ID.BOT_TOKEN" everywhere and has no
// AppSecret/access-token flow. INTENTS are its names: GUILDS, GUILD_MEMBERS, GUILD_MESSAGES,
// GUILD_MESSAGE_REACTIONS, DIRECT_MESSAGE, FORUMS_EVENT, AUDIO_ACTION, PUBLIC_GUILD_MESSAGES, MESSAGE_AUDIT,
// INTERACTION (no group/C2C intent). SHARD "i,n" is passed as its `shards` option.
//
// Redirection: the SDK builds absolute https://api.sgroup.qq.com (or sandbox.) URLs for GET /gateway/bot and
// every OpenAPI call and sends them with a fresh axios instance per request (resty-client), so it has no
// option or shared instance to point elsewhere. redirect_hosts.cjs replaces `https.request`/`https.get` in
// this process so that requests to those hosts go to BASE_URL over plain HTTP. The WebSocket URL is the
// `url` of the GET /gateway/bot answer: not redirected.
//
// Observation: handlers on the client for every intent name (the SDK emits each dispatch under the intent its
// type belongs to, as {eventType, eventId, msg}), and on its session events READY, EVENT_WS (READY = alive,
// RECONNECT = op 7 seen, DISCONNECT = closed, with the code), ERROR and DEAD. The SDK does not expose `s`.
"use strict";
const { parseArgs, emit, serve, RecentEvents } = require("./driver_io.cjs");

const args = parseArgs();
require("./redirect_hosts.cjs").install(args.base);
const sdk = require("qq-guild-bot");

const config = {
  appID: args.appid,
  token: args.secret,
  intents: args.intents,
  sandbox: false,
  ...(args.shard ? { shards: args.shard } : {}),
};
const api = sdk.createOpenAPI(config);
const client = sdk.createWebsocket(config);

const recent = new RecentEvents();
for (const intent of Object.values(sdk.AvailableIntentsEventsEnum)) {
  client.on(intent, (data) => {
    emit({ t: data.eventType, id: data.eventId || null, s: null, sdk_event: intent, d: data.msg });
    recent.add([data.eventId, data.msg && data.msg.id], data);
  });
}
client.on(sdk.SessionEvents.READY, (data) => emit({ ready: data.msg }));
client.on(sdk.SessionEvents.EVENT_WS, (data) => {
  const { READY, RECONNECT, DISCONNECT } = sdk.SessionEvents;
  if (data.eventType === READY) {
    // First heartbeat ACK or RESUMED on a connection. The SDK passes a session record only when it resumes.
    const record = client.session && client.session.sessionRecord;
    emit(record ? { resumed: { session_id: record.sessionID, seq: record.seq } } : { alive: true });
  } else if (data.eventType === RECONNECT) {
    emit({ op: 7 });
  } else if (data.eventType === DISCONNECT) {
    // The client resumes after the codes its WebsocketCloseReason table marks `resume` (4008, 4009).
    const reason = sdk.WebsocketCloseReason.find((r) => r.code === data.code);
    emit({ close: { code: data.code ?? null, resume: Boolean(reason && reason.resume) } });
  }
});
client.on(sdk.SessionEvents.ERROR, (data) => emit({ error: data.msg }));
client.on(sdk.SessionEvents.DEAD, (data) => emit({ dead: data.msg }));

serve({
  // {"reply": {"to": <d.id or event id of a received message>, "text": "..."}}: a passive reply (msg_id =
  // the message answered) with messageApi.postMessage to a guild channel, or directMessageApi for a DM.
  async onReply({ to, text }) {
    const data = recent.get(to);
    if (!data) throw new Error(`no received event with id ${to}`);
    const msg = data.msg;
    const body = { content: text, msg_id: msg.id };
    const result = data.eventType.startsWith("DIRECT_MESSAGE")
      ? await api.directMessageApi.postDirectMessage(msg.guild_id, body)
      : await api.messageApi.postMessage(msg.channel_id, body);
    return result.data;
  },
  onExit: () => client.disconnect(),
});
