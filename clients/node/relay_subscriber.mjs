#!/usr/bin/env node
// A qq-gateway-relay subscriber that never misses a message: it notices relay_seq gaps and fills them from the
// relay's replay endpoint, and it resumes where it stopped after a restart. The Node.js twin of
// clients/python/relay_subscriber.py: same arguments, same journal lines, same messages on stderr.
//
// Usage: node relay_subscriber.mjs PUB_ENDPOINT REPLAY_ENDPOINT [--journal FILE] [--server-key KEY
//        --public-key KEY --secret-key KEY] [--rcvhwm N] [--delay SECONDS]
//
// Every message is handed to handle(), here: appended to the journal (one JSON line each) or printed. The journal
// is also the position: on start, the relay_seq of its last complete line is where catch-up begins, so a crash
// costs nothing and repeats nothing. With CURVE keys (Z85, from `qq-gateway-relay keygen`) both sockets are
// encrypted and authenticated. Needs the npm package zeromq v6 (`npm ci` in this directory). See
// docs/subscribing.md.
//
// relay_seq is kept as a JavaScript Number (JSON.parse's default): exact up to 2^53, about 285 years at a
// million messages a second. received_at_us (microseconds since 1970) is below 2^53 too.
import fs from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import * as zmq from "zeromq";

const USAGE = `usage: relay_subscriber.mjs PUB_ENDPOINT REPLAY_ENDPOINT [--journal FILE]
       [--server-key KEY --public-key KEY --secret-key KEY] [--rcvhwm N] [--delay SECONDS]`;

// What Python's json.dumps(record, ensure_ascii=False) writes for a flat object: ", " and ": " between items,
// non-ASCII text as is, and the same escapes as JSON.stringify. So both clients write identical journals.
function pythonJson(record) {
  return `{${Object.entries(record).map(([k, v]) => `${JSON.stringify(k)}: ${JSON.stringify(v)}`).join(", ")}}`;
}

// Append-only JSON lines; the last complete line is the position.
class Journal {
  constructor(path) {
    this.last = null;
    this.fd = null;
    if (path && fs.existsSync(path)) {
      const data = fs.readFileSync(path);
      const complete = data.subarray(0, data.lastIndexOf(0x0a) + 1);
      if (complete.length !== data.length) fs.truncateSync(path, complete.length); // a line cut short by a crash
      const lines = complete.toString("utf8").split("\n").filter((line) => line !== "");
      if (lines.length) this.last = JSON.parse(lines.at(-1)).relay_seq;
    }
    if (path) this.fd = fs.openSync(path, "a");
  }

  handle(topic, body, meta) {
    const line = pythonJson({
      relay_seq: meta.relay_seq, topic: topic.toString("utf8"), source: meta.source,
      event_id: meta.event_id, body: body.toString("utf8"), // invalid UTF-8 becomes U+FFFD, as with "replace"
    });
    if (this.fd !== null) {
      fs.writeSync(this.fd, line + "\n"); // one write per line: a crash cuts at most the last line
    } else {
      process.stdout.write(line + "\n");
    }
    this.last = meta.relay_seq;
  }
}

class Subscriber {
  constructor(pubEndpoint, replayEndpoint, curve = null, rcvhwm = 1000) {
    // Options given at construction are set before connect, where they must be (receiveHighWaterMark, CURVE).
    const common = { linger: 0 };
    if (curve) {
      Object.assign(common, { curveServerKey: curve.server, curvePublicKey: curve.public,
                              curveSecretKey: curve.secret });
    }
    this.sub = new zmq.Subscriber({ ...common, receiveHighWaterMark: rcvhwm });
    this.replay = new zmq.Dealer({ ...common, receiveTimeout: 5000 }); // the 5 s wait for a catch-up answer
    this.sub.subscribe(); // everything: gaps are only visible when subscribed to everything
    this.sub.connect(pubEndpoint);
    this.replay.connect(replayEndpoint);
  }

  // One catch-up request; returns [header, [[topic, body, meta], ...]]. A busy relay is asked again, with
  // growing pauses (3 s in all) before giving up.
  async ask(since, max = 1000) {
    for (let pause = 50; ; pause *= 2) {
      await this.replay.send(["", JSON.stringify({ since, max })]);
      let reply;
      try {
        reply = await this.replay.receive();
      } catch (error) {
        if (error.code === "EAGAIN") throw new Error("no answer from the replay endpoint");
        throw error;
      }
      const frames = reply.slice(1); // drop the empty delimiter
      const header = JSON.parse(frames[0]);
      if (!("error" in header)) return [header, Subscriber.triples(frames)];
      if (!header.error.startsWith("busy") || pause > 2000) throw new Error(header.error);
      console.error(`replay endpoint ${header.error}; asking again in ${pause} ms`);
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  }

  static triples(frames) {
    const triples = [];
    for (let i = 1; i < frames.length; i += 3) triples.push([frames[i], frames[i + 1], JSON.parse(frames[i + 2])]);
    return triples;
  }

  // Fills what was missed after journal.last, up to `until` (exclusive) or everything retained.
  async catchUp(journal, until = null) {
    while (until === null || journal.last < until - 1) {
      const [header, triples] = await this.ask(journal.last);
      const first = header.first_available;
      if (first !== null && first > journal.last + 1) {
        console.error(`lost for good: relay_seq ${journal.last + 1}..${first - 1} (no longer retained)`);
      }
      for (const [topic, body, meta] of triples) {
        if (until !== null && meta.relay_seq >= until) return;
        if (meta.relay_seq > journal.last) journal.handle(topic, body, meta);
      }
      if (header.count === 0) return;
    }
  }

  async run(journal, delay = 0) {
    if (journal.last !== null) await this.catchUp(journal);
    for await (const [topic, body, metaBytes] of this.sub) {
      const meta = JSON.parse(metaBytes);
      const seq = meta.relay_seq;
      if (journal.last !== null) {
        if (seq <= journal.last) continue; // already handled, from a catch-up
        if (seq > journal.last + 1) {
          console.error(`gap: relay_seq ${journal.last + 1}..${seq - 1}, catching up`);
          await this.catchUp(journal, seq);
        }
      }
      journal.handle(topic, body, meta);
      if (delay) await sleep(delay * 1000); // a deliberately slow consumer, for tests
    }
  }
}

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
  if (positionals.length !== 2) usageError("expected PUB_ENDPOINT and REPLAY_ENDPOINT");
  const rcvhwm = Number(values.rcvhwm);
  const delay = Number(values.delay);
  if (!Number.isInteger(rcvhwm) || rcvhwm < 0) usageError(`--rcvhwm: not a count: ${values.rcvhwm}`);
  if (!Number.isFinite(delay) || delay < 0) usageError(`--delay: not a number of seconds: ${values.delay}`);
  let curve = null;
  if (values["server-key"]) {
    if (!values["public-key"] || !values["secret-key"]) usageError("--server-key needs --public-key and --secret-key");
    curve = { server: values["server-key"], public: values["public-key"], secret: values["secret-key"] };
  }
  return { pub: positionals[0], replay: positionals[1], journal: values.journal, curve, rcvhwm, delay };
}

const args = parseCommandLine();
const subscriber = new Subscriber(args.pub, args.replay, args.curve, args.rcvhwm);
const journal = new Journal(args.journal);
process.on("SIGINT", () => process.exit(0)); // Ctrl-C: every journal line is already written whole
await subscriber.run(journal, args.delay);
