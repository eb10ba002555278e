// qq-gateway-relay-client: a subscriber that never misses a message. It notices relay_seq gaps on the PUB socket
// and fills them from the relay's replay endpoint; a Journal (or any object with `last` and handle()) is the
// position, so a restart resumes where it stopped. The Node.js twin of the Python package in clients/python: same
// journal lines, same messages on stderr. Types: index.d.ts. The contract: docs/subscribing.md.
//
// relay_seq is kept as a JavaScript Number (JSON.parse's default): exact up to 2^53, about 285 years at a
// million messages a second. received_at_us (microseconds since 1970) is below 2^53 too.
import fs from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import * as zmq from "zeromq";

// The relay's version, which this package's follows (package.json is the one place it is written here).
export const version = JSON.parse(fs.readFileSync(new URL("./package.json", import.meta.url), "utf8")).version;

// What Python's json.dumps(record, ensure_ascii=False) writes for a flat object: ", " and ": " between items,
// non-ASCII text as is, and the same escapes as JSON.stringify. So both clients write identical journals.
export function pythonJson(record) {
  return `{${Object.entries(record).map(([k, v]) => `${JSON.stringify(k)}: ${JSON.stringify(v)}`).join(", ")}}`;
}

// Calls fn(line) for each complete, non-empty line of the file, reading it 1 MiB at a time, and returns the length
// of its complete lines in bytes. A journal grows without bound: read whole, one of more than 512 MiB is a string
// longer than V8 allows (ERR_STRING_TOO_LONG), and a client restarted after some hours of traffic would not start.
function forEachLine(path, fn) {
  const fd = fs.openSync(path, "r");
  try {
    const chunk = Buffer.alloc(1 << 20);
    let carry = Buffer.alloc(0); // the bytes after the last newline read so far
    let complete = 0;
    for (;;) {
      const n = fs.readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) return complete;
      const data = carry.length ? Buffer.concat([carry, chunk.subarray(0, n)]) : chunk.subarray(0, n);
      let start = 0;
      for (let end = data.indexOf(0x0a); end !== -1; end = data.indexOf(0x0a, start)) {
        if (end > start) fn(data.toString("utf8", start, end));
        start = end + 1;
      }
      carry = Buffer.from(data.subarray(start)); // a copy: chunk is read into again
      complete += start;
    }
  } finally {
    fs.closeSync(fd);
  }
}

// Append-only JSON lines; the last complete line is the position.
export class Journal {
  constructor(path) {
    this.last = null;
    this.fd = null;
    if (path && fs.existsSync(path)) {
      let lastLine = null;
      const complete = forEachLine(path, (line) => { lastLine = line; });
      if (complete !== fs.statSync(path).size) fs.truncateSync(path, complete); // a line cut short by a crash
      if (lastLine !== null) this.last = JSON.parse(lastLine).relay_seq;
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

  close() {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }
}

// How long a catch-up request waits for its answer.
export const REPLY_TIMEOUT_MS = 5000;

export class Subscriber {
  constructor(pubEndpoint, replayEndpoint, curve = null, rcvhwm = 1000) {
    // Options given at construction are set before connect, where they must be (receiveHighWaterMark, CURVE).
    const common = { linger: 0 };
    if (curve) {
      Object.assign(common, { curveServerKey: curve.server, curvePublicKey: curve.public,
                              curveSecretKey: curve.secret });
    }
    this.sub = new zmq.Subscriber({ ...common, receiveHighWaterMark: rcvhwm });
    this.replay = new zmq.Dealer(common);
    this.sub.subscribe(); // everything: gaps are only visible when subscribed to everything
    this.sub.connect(pubEndpoint);
    this.replay.connect(replayEndpoint);
  }

  // One catch-up request; returns [header, [[topic, body, meta], ...]]. A busy relay is asked again, with
  // growing pauses (3 s in all) before giving up.
  async ask(since, max = 1000) {
    for (let pause = 50; ; pause *= 2) {
      await this.replay.send(["", JSON.stringify({ since, max })]);
      const reply = await this.#answer();
      const frames = reply.slice(1); // drop the empty delimiter
      const header = JSON.parse(frames[0]);
      if (!("error" in header)) return [header, Subscriber.triples(frames)];
      if (!header.error.startsWith("busy") || pause > 2000) throw new Error(header.error);
      console.error(`replay endpoint ${header.error}; asking again in ${pause} ms`);
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  }

  // The reply to the request just sent, waited for REPLY_TIMEOUT_MS by the clock. zeromq's receiveTimeout alone is
  // not enough: its timer starts from the event loop's cached time, so after a long synchronous stretch (reading a
  // journal of hundreds of MB at start) it expires at once, before the reply could arrive.
  async #answer() {
    const deadline = performance.now() + REPLY_TIMEOUT_MS;
    for (;;) {
      const left = Math.ceil(deadline - performance.now());
      if (left <= 0) throw new Error("no answer from the replay endpoint");
      this.replay.receiveTimeout = left;
      try {
        return await this.replay.receive();
      } catch (error) {
        if (error.code !== "EAGAIN") throw error;
      }
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

  // Hands every message to journal.handle(), in relay_seq order, gaps filled; catches up first when journal.last
  // is set. Resolves after `count` live messages (those caught up on the way included), or never.
  async run(journal, delay = 0, count = null) {
    if (journal.last !== null) await this.catchUp(journal);
    let live = 0;
    while (count === null || live < count) {
      const [topic, body, metaBytes] = await this.sub.receive();
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
      live += 1;
      if (delay) await sleep(delay * 1000); // a deliberately slow consumer, for tests
    }
  }

  close() {
    this.sub.close();
    this.replay.close();
  }
}

// How many event ids are remembered to drop repeats: a takeover repeats what the dead relay published in its last
// moments (at most the platform's replay of one session), far fewer than this.
export const RECENT_IDS = 65536;

// The last `capacity` event ids seen, oldest forgotten first (a Set keeps insertion order).
// The oldest is found in a ring rather than as the Set's first entry: V8 leaves deleted entries in place until the
// table is rebuilt, so values().next() walked past up to tens of thousands of them (12 us per add when full: a
// client reading back an hour's journal spent 15 s here).
export class RecentIds {
  constructor(capacity = RECENT_IDS) {
    this.capacity = capacity;
    this.ids = new Set();
    this.ring = new Array(capacity); // in the order added; `oldest` is the next place to write
    this.oldest = 0;
  }

  // false when the id is already remembered (a repeat).
  add(eventId) {
    if (this.ids.has(eventId)) return false;
    if (this.capacity <= 0) return true; // remembers nothing, like the Python client's
    if (this.ids.size === this.capacity) this.ids.delete(this.ring[this.oldest]);
    this.ids.add(eventId);
    this.ring[this.oldest] = eventId;
    this.oldest = (this.oldest + 1) % this.capacity;
    return true;
  }
}

// A Journal whose lines also say which relay (its PUB endpoint) published them: "relay" at the end. On start the
// last line of each relay is that relay's position, and the event ids of the lines are remembered, so a restarted
// client neither misses nor repeats across relays.
export class ClusterJournal extends Journal {
  constructor(path) {
    super(path);
    this.positions = new Map();
    this.recent = new RecentIds();
    if (path && fs.existsSync(path)) {
      forEachLine(path, (line) => {
        const record = JSON.parse(line);
        if ("relay" in record) this.positions.set(record.relay, record.relay_seq);
        if (record.event_id) this.recent.add(record.event_id);
      });
    }
  }

  handleFrom(relay, topic, body, meta) {
    const line = pythonJson({
      relay_seq: meta.relay_seq, topic: topic.toString("utf8"), source: meta.source,
      event_id: meta.event_id, body: body.toString("utf8"), relay,
    });
    if (this.fd !== null) {
      fs.writeSync(this.fd, line + "\n");
    } else {
      process.stdout.write(line + "\n");
    }
    this.positions.set(relay, meta.relay_seq);
  }
}

// One relay's view of a ClusterJournal, for Subscriber.catchUp: `last` is that relay's position; handle() drops
// repeats by event_id and writes the rest with the relay's endpoint.
class RelaySink {
  constructor(cluster, relay, journal) {
    Object.assign(this, { cluster, relay, journal });
  }

  get last() {
    return this.journal.positions.get(this.relay) ?? null;
  }

  set last(value) {
    if (value === null) this.journal.positions.delete(this.relay);
    else this.journal.positions.set(this.relay, value);
  }

  handle(topic, body, meta) {
    if (meta.event_id && !this.journal.recent.add(meta.event_id)) {
      this.cluster.repeats += 1;
      this.last = meta.relay_seq; // the position moves on: this relay's message was seen
      return;
    }
    this.journal.handleFrom(this.relay, topic, body, meta);
    this.cluster.handled += 1;
  }
}

// Several relays sharing one bot's shards: one Subscriber (a SUB and a DEALER) per relay, each given as
// [pubEndpoint, replayEndpoint]. relay_seq is checked per relay and a gap is filled from that relay's own replay
// endpoint; an event_id already handled (from any relay) is dropped. Messages without an event_id (relay.shard)
// are never dropped.
export class ClusterSubscriber {
  constructor(relays, curve = null, rcvhwm = 1000) {
    this.relays = relays.map(([pub, replay]) => [pub, replay]);
    this.subscribers = this.relays.map(([pub, replay]) => new Subscriber(pub, replay, curve, rcvhwm));
    this.nodes = new Map(); // PUB endpoint -> the node named in its last message's metadata
    this.handled = 0;
    this.repeats = 0;
  }

  // A different node on the same endpoint (another relay took the address) numbers its own stream: start again
  // from its next message. Contract-1 metadata has no node: "".
  checkNode(sink, meta) {
    const node = meta.node ?? "";
    const known = this.nodes.get(sink.relay);
    if (known !== undefined && known !== node) {
      console.error(`${sink.relay}: node changed from ${JSON.stringify(known)} to ${JSON.stringify(node)}; ` +
                    `following its relay_seq from ${meta.relay_seq}`);
      sink.last = null;
    }
    this.nodes.set(sink.relay, node);
  }

  // Hands every message of every relay to the journal once, each relay's gaps filled from that relay; catches up
  // first for every relay with a position. Resolves after `count` live messages handled or dropped as repeats,
  // or never.
  async run(journal, delay = 0, count = null) {
    const sinks = this.relays.map(([pub]) => new RelaySink(this, pub, journal));
    for (let i = 0; i < sinks.length; i++) {
      if (sinks[i].last !== null) await this.subscribers[i].catchUp(sinks[i]);
    }
    // One receive pending per SUB socket (zeromq allows no more); whichever completes first is handled.
    // An error (the socket closed) is returned rather than thrown, so a receive left pending when run() ends
    // is never an unhandled rejection.
    const receive = (i) => this.subscribers[i].sub.receive().then((frames) => [i, frames, null],
                                                                    (error) => [i, null, error]);
    const pending = this.subscribers.map((_, i) => receive(i));
    let live = 0;
    while (count === null || live < count) {
      const [i, frames, error] = await Promise.race(pending);
      if (error) throw error;
      pending[i] = receive(i);
      const [topic, body, metaBytes] = frames;
      const sink = sinks[i];
      const meta = JSON.parse(metaBytes);
      this.checkNode(sink, meta);
      const seq = meta.relay_seq;
      const last = sink.last;
      if (last !== null) {
        if (seq <= last) continue; // already handled, from a catch-up
        if (seq > last + 1) {
          console.error(`gap: relay_seq ${last + 1}..${seq - 1} of ${sink.relay}, catching up`);
          await this.subscribers[i].catchUp(sink, seq);
        }
      }
      sink.handle(topic, body, meta);
      live += 1;
      if (delay) await sleep(delay * 1000);
    }
  }

  close() {
    for (const subscriber of this.subscribers) subscriber.close();
  }
}
