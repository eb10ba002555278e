// qq-official-bot (npm, pinned in package-lock.json, node_modules unmodified) sending through the relay's
// OpenAPI forwarder: its token exchange goes to the relay's /app/getAppAccessToken with the client key as its
// secret, its API calls to the relay. The SDK fixes its hosts (api.sgroup.qq.com, bots.qq.com); they are
// pointed at the relay here, at run time, through the SDK's own axios instance (bot.request).
//
// Usage: node official_bot_send.cjs API_BASE APP_ID CLIENT_KEY GROUP_OPENID MSG_ID TEXT
// Prints the SDK's result of sendGroupMessage as one JSON line.
const { Bot } = require("qq-official-bot");

const [api, appid, key, group, msgId, text] = process.argv.slice(2);

async function main() {
  const bot = new Bot({ appid, secret: key, sandbox: false, mode: "websocket", logLevel: "error", timeout: 10000 });
  bot.request.defaults.baseURL = api;
  bot.request.interceptors.request.use((config) => {
    if (config.url && config.url.startsWith("https://bots.qq.com")) {
      config.url = api + config.url.slice("https://bots.qq.com".length);
    }
    return config;
  });
  await bot.sessionManager.getAccessToken();
  // `source` is the message being answered: its id becomes msg_id, which makes this a passive reply.
  const result = await bot.sendGroupMessage(group, text, { id: msgId });
  console.log(JSON.stringify(result));
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error && error.response ? `${error.response.status} ${JSON.stringify(error.response.data)}` : error);
    process.exit(1);
  },
);
