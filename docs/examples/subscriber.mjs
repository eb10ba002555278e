// Prints every message qq-gateway-relay publishes, one line each, and reports relay_seq gaps.
//
// Usage: node subscriber.mjs [ENDPOINT] [TOPIC_FILTER]
//   ENDPOINT      the relay's publish endpoint (default tcp://127.0.0.1:5555)
//   TOPIC_FILTER  a topic prefix, e.g. GROUP_ or relay.shard (default: everything). Include publish.topic_prefix.
//
// Needs the npm package zeromq v6: npm install zeromq@6. Stop it with Ctrl-C.
// See docs/subscribing.md for the message format.
import * as zmq from "zeromq";

const endpoint = process.argv[2] ?? "tcp://127.0.0.1:5555";
const topicFilter = process.argv[3] ?? "";

const sock = new zmq.Subscriber();
sock.connect(endpoint);
sock.subscribe(topicFilter);
console.error(`subscribed to ${JSON.stringify(topicFilter)} on ${endpoint}`);

// Closing the socket ends the for-await loop below.
process.on("SIGINT", () => sock.close());

// What the line shows about frame 2: the event's t, or the state of a relay.shard message.
function describe(meta, body) {
  let doc;
  try {
    doc = JSON.parse(body.toString("utf8")); // only t is read: large ids lose nothing that matters here
  } catch {
    return "body=<not JSON>";
  }
  if (meta.source === "relay") {
    let text = `state=${doc.state}`;
    if (doc.state === "disconnected" || doc.state === "stopped") {
      text += ` close_code=${doc.close_code} reason=${JSON.stringify(doc.reason)} will_resume=${doc.will_resume}`;
    }
    return text;
  }
  return `t=${doc.t}`;
}

// relay_seq counts every message the relay publishes, on all topics. With a topic filter the skipped
// topics look like gaps, so gaps are only checked when subscribed to everything.
const checkGaps = topicFilter === "";
let lastRelaySeq = null;

for await (const [topic, body, meta] of sock) {
  const info = JSON.parse(meta.toString("utf8"));
  const relaySeq = info.relay_seq;
  if (checkGaps && lastRelaySeq !== null) {
    if (relaySeq <= lastRelaySeq) {
      console.log(`relay restarted: relay_seq went from ${lastRelaySeq} to ${relaySeq}`);
    } else if (relaySeq > lastRelaySeq + 1) {
      const lost = relaySeq - lastRelaySeq - 1;
      console.log(`GAP: ${lost} message(s) lost, relay_seq ${lastRelaySeq + 1}..${relaySeq - 1}`);
    }
  }
  lastRelaySeq = relaySeq;
  const where = info.shard ? ` shard=${info.shard[0]}/${info.shard[1]}` : "";
  const seq = info.seq !== null ? ` s=${info.seq}` : "";
  console.log(`relay_seq=${relaySeq} topic=${topic.toString("utf8")} ${describe(info, body)}${where}${seq}`);
}
