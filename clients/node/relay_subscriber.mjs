#!/usr/bin/env node
// relay-subscriber: the client of index.mjs as a command, the Node.js twin of clients/python/relay_subscriber.py:
// same arguments, same journal lines, same messages on stderr.
//
// Usage: node relay_subscriber.mjs [PUB_ENDPOINT REPLAY_ENDPOINT] [--relay PUB,REPLAY ...] [--journal FILE] [--server-key KEY
//        --public-key KEY --secret-key KEY] [--rcvhwm N] [--delay SECONDS]
//
// Every message is appended to the journal (one JSON line each) or printed. The journal is also the position: on
// start, the relay_seq of its last complete line is where catch-up begins, so a crash costs nothing and repeats
// nothing. With --relay PUB,REPLAY (repeatable) it follows every relay of a cluster: relay_seq per relay, gaps
// filled from that relay's replay endpoint, repeats across relays dropped by event_id. With CURVE keys (Z85, from `qq-gateway-relay keygen`) both sockets are encrypted and authenticated.
// Needs the npm package zeromq v6 (`npm ci` in this directory, or `npm install ./clients/node` elsewhere). See
// README.md here and docs/subscribing.md.
import { parseArgs } from "node:util";
import { ClusterJournal, ClusterSubscriber, Journal, Subscriber } from "./index.mjs";

const USAGE = `usage: relay_subscriber.mjs [PUB_ENDPOINT REPLAY_ENDPOINT] [--relay PUB,REPLAY ...] [--journal FILE]
       [--server-key KEY --public-key KEY --secret-key KEY] [--rcvhwm N] [--delay SECONDS]`;

function usageError(message) {
  console.error(`${USAGE}\nrelay_subscriber.mjs: error: ${message}`);
  process.exit(2);
}

// Z85 keys may begin with '-', which parseArgs would take for an option: pass them on as --name=KEY.
function joinedKeyOptions(args) {
  const out = [];
  for (let i = 0; i < args.length; i++) {
    if (["--server-key", "--public-key", "--secret-key"].includes(args[i]) && i + 1 < args.length) {
      out.push(`${args[i]}=${args[++i]}`);
    } else {
      out.push(args[i]);
    }
  }
  return out;
}

function parseCommandLine() {
  let parsed;
  try {
    parsed = parseArgs({
      args: joinedKeyOptions(process.argv.slice(2)),
      allowPositionals: true,
      options: {
        journal: { type: "string" }, // append messages here; its last line is the position
        // one relay of a cluster: its PUB and replay endpoints; repeat it for each relay (relay_seq per relay,
        // repeats dropped by event_id)
        relay: { type: "string", multiple: true, default: [] },
        "server-key": { type: "string" }, // the relay's CURVE public key (Z85)
        "public-key": { type: "string" }, // this client's CURVE public key (Z85)
        "secret-key": { type: "string" }, // this client's CURVE secret key (Z85)
        rcvhwm: { type: "string", default: "1000" },
        delay: { type: "string", default: "0" }, // seconds to sleep after each message
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    usageError(error.message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  if (positionals.length !== 2 && !(positionals.length === 0 && values.relay.length)) {
    usageError("expected PUB_ENDPOINT and REPLAY_ENDPOINT (or --relay PUB,REPLAY)");
  }
  const relays = positionals.length ? [[positionals[0], positionals[1]]] : [];
  for (const relay of values.relay) {
    const comma = relay.indexOf(",");
    if (comma <= 0 || comma === relay.length - 1) usageError(`--relay: expected PUB,REPLAY: ${relay}`);
    relays.push([relay.slice(0, comma), relay.slice(comma + 1)]);
  }
  const rcvhwm = Number(values.rcvhwm);
  const delay = Number(values.delay);
  if (!Number.isInteger(rcvhwm) || rcvhwm < 0) usageError(`--rcvhwm: not a count: ${values.rcvhwm}`);
  if (!Number.isFinite(delay) || delay < 0) usageError(`--delay: not a number of seconds: ${values.delay}`);
  let curve = null;
  if (values["server-key"]) {
    if (!values["public-key"] || !values["secret-key"]) usageError("--server-key needs --public-key and --secret-key");
    curve = { server: values["server-key"], public: values["public-key"], secret: values["secret-key"] };
  }
  return { relays, cluster: values.relay.length > 0, journal: values.journal, curve, rcvhwm, delay };
}

const args = parseCommandLine();
process.on("SIGINT", () => process.exit(0)); // Ctrl-C: every journal line is already written whole
if (args.cluster) {
  // The cluster form, even for one --relay: journal lines say which relay, repeats are dropped.
  const cluster = new ClusterSubscriber(args.relays, args.curve, args.rcvhwm);
  await cluster.run(new ClusterJournal(args.journal), args.delay);
} else {
  const [[pub, replay]] = args.relays;
  const subscriber = new Subscriber(pub, replay, args.curve, args.rcvhwm);
  await subscriber.run(new Journal(args.journal), args.delay);
}
