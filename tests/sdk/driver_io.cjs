// What every *_gateway.cjs driver shares: its arguments, the JSON lines it prints, the reply commands it reads
// on stdin, and a clean exit on stdin EOF or SIGTERM. No SDK code here.
//
// Arguments (argv, or the environment when an argument is missing):
//   BASE     QQ_SDK_BASE     http://127.0.0.1:PORT, the server that stands in for every platform host
//   APP_ID   QQ_SDK_APP_ID
//   SECRET   QQ_SDK_SECRET   the AppSecret (or, for the legacy "Bot" token, the bot token)
//   INTENTS  QQ_SDK_INTENTS  comma-separated intent names, spelled as the SDK spells them
//   SHARD    QQ_SDK_SHARD    optional "i,n"; only SDKs that take a shard use it
"use strict";
const util = require("util");

// stdout carries only the driver's JSON lines: SDK loggers that print with console.* go to stderr.
for (const level of ["log", "info", "debug", "trace", "warn", "error"]) {
  // Returns undefined like console.*: qq-guild-bot uses a logger call's result as a value (checkShards).
  console[level] = (...parts) => {
    process.stderr.write(util.format(...parts) + "\n");
  };
}

function parseArgs(argv = process.argv.slice(2), env = process.env) {
  const [base, appid, secret, intents, shard] = [
    argv[0] ?? env.QQ_SDK_BASE,
    argv[1] ?? env.QQ_SDK_APP_ID,
    argv[2] ?? env.QQ_SDK_SECRET,
    argv[3] ?? env.QQ_SDK_INTENTS,
    argv[4] ?? env.QQ_SDK_SHARD,
  ];
  if (!base || !appid || !secret || !intents) {
    process.stderr.write("usage: node DRIVER BASE_URL APP_ID SECRET INTENT[,INTENT...] [SHARD_I,SHARD_N]\n");
    process.exit(2);
  }
  return {
    base: base.replace(/\/+$/, ""),
    appid,
    secret,
    intents: intents.split(",").map((s) => s.trim()).filter(Boolean),
    shard: shard ? shard.split(",").map(Number) : null,
  };
}

// JSON.stringify that survives the SDKs' event objects: they hold the bot (cycles, sockets, timers) and methods.
function safeJson(value) {
  const seen = new WeakSet();
  return JSON.stringify(value, (key, v) => {
    if (typeof v === "function" || typeof v === "symbol") return undefined;
    if (typeof v === "bigint") return v.toString();
    if (v && typeof v === "object") {
      if (seen.has(v)) return undefined;
      // The bot, its HTTP clients and Koishi contexts are not event data.
      if (key === "bot" || key === "ctx" || key === "app" || key === "request" || key === "http") return undefined;
      seen.add(v);
    }
    return v;
  });
}

// One JSON line, written at once (stdout to a pipe is synchronous on Linux, so nothing waits in a buffer).
function emit(object) {
  process.stdout.write(safeJson(object) + "\n");
}

function errorText(error) {
  if (!error) return String(error);
  if (error.response && error.response.data !== undefined) {
    return `${error.response.status} ${safeJson(error.response.data)}`;
  }
  if (error.message) return error.message;
  return safeJson(error);
}

// Reads {"reply": {...}} lines from stdin and hands each to onReply, printing {"reply_result": ...} or
// {"reply_error": ...}. Calls onExit once, on stdin EOF or SIGTERM/SIGINT, then exits 0.
function serve({ onReply, onExit }) {
  let exiting = false;
  const exit = async (why) => {
    if (exiting) return;
    exiting = true;
    emit({ exit: why });
    try {
      await Promise.race([Promise.resolve(onExit && onExit()), new Promise((r) => setTimeout(r, 2000))]);
    } finally {
      process.exit(0);
    }
  };
  process.on("SIGTERM", () => exit("SIGTERM"));
  process.on("SIGINT", () => exit("SIGINT"));
  let pending = "";
  process.stdin.setEncoding("utf8");
  process.stdin.on("data", (chunk) => {
    pending += chunk;
    let newline;
    while ((newline = pending.indexOf("\n")) >= 0) {
      const line = pending.slice(0, newline).trim();
      pending = pending.slice(newline + 1);
      if (!line) continue;
      let command;
      try {
        command = JSON.parse(line);
      } catch (error) {
        emit({ error: `stdin: not JSON: ${line.slice(0, 200)}` });
        continue;
      }
      if (command && command.reply) {
        Promise.resolve()
          .then(() => onReply(command.reply))
          .then(
            (result) => emit({ reply_result: result === undefined ? null : result }),
            (error) => emit({ reply_error: errorText(error) }),
          );
      } else {
        emit({ error: `stdin: unknown command: ${line.slice(0, 200)}` });
      }
    }
  });
  process.stdin.on("end", () => exit("stdin EOF"));
}

// Remembers the last events by the ids a reply may name: the message id in d (d.id) and the event id.
class RecentEvents {
  constructor(limit = 1000) {
    this.limit = limit;
    this.map = new Map();
  }

  add(keys, value) {
    for (const key of keys) {
      if (key === undefined || key === null || key === "") continue;
      this.map.set(String(key), value);
      if (this.map.size > this.limit) this.map.delete(this.map.keys().next().value);
    }
  }

  get(key) {
    return this.map.get(String(key));
  }
}

module.exports = { parseArgs, emit, safeJson, errorText, serve, RecentEvents };
