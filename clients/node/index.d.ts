// Types of index.mjs, written by hand: keep them in step with the code (tests/integration/test_client_packages.py
// compiles a use of every member against this file).
import type { Dealer, Subscriber as ZmqSubscriber } from "zeromq";

/** The relay's version, which this package's follows. */
export const version: string;

/** The third frame of every message, parsed (docs/subscribing.md lists the fields). */
export interface Meta {
  relay_seq: number;
  source: string;
  event_id: string;
  /** contract 2: the relay that numbered the message; absent in contract 1 */
  node?: string;
  [field: string]: unknown;
}

/** Z85 keys, as `qq-gateway-relay keygen` writes them. */
export interface CurveKeys {
  /** the relay's public key */
  server: string;
  /** this client's public key */
  public: string;
  /** this client's secret key */
  secret: string;
}

/** One catch-up answer's header (docs/subscribing.md, the replay endpoint). */
export interface ReplayHeader {
  count: number;
  first_available: number | null;
  [field: string]: unknown;
}

/** topic, body (the Dispatch's JSON as the gateway sent it), metadata. */
export type Message = [topic: Buffer, body: Buffer, meta: Meta];

/**
 * What Subscriber.run() hands messages to: a Journal, or any object with these two members. `last` is the
 * relay_seq of the last message handled (null: start with the next live one); handle() must set it.
 */
export interface Sink {
  last: number | null;
  handle(topic: Buffer, body: Buffer, meta: Meta): void;
}

/** JSON text as Python's json.dumps(record, ensure_ascii=False) writes a flat object. */
export function pythonJson(record: Record<string, unknown>): string;

/** Append-only JSON lines; the last complete line is the position. Without a path, lines go to stdout. */
export class Journal implements Sink {
  constructor(path?: string | null);
  last: number | null;
  handle(topic: Buffer, body: Buffer, meta: Meta): void;
  close(): void;
}

/** A SUB socket on the relay's PUB endpoint and a DEALER on its replay endpoint, both with CURVE when given. */
export class Subscriber {
  constructor(pubEndpoint: string, replayEndpoint: string, curve?: CurveKeys | null, rcvhwm?: number);
  readonly sub: ZmqSubscriber;
  readonly replay: Dealer;
  /** One catch-up request; a busy relay is asked again, with growing pauses (3 s in all) before giving up. */
  ask(since: number | null, max?: number): Promise<[ReplayHeader, Message[]]>;
  /** Fills what was missed after journal.last, up to `until` (exclusive) or everything retained. */
  catchUp(journal: Sink, until?: number | null): Promise<void>;
  /**
   * Hands every message to journal.handle(), in relay_seq order, gaps filled; catches up first when journal.last
   * is set. Resolves after `count` live messages (those caught up on the way included), or never.
   */
  run(journal: Sink, delay?: number, count?: number | null): Promise<void>;
  close(): void;
  static triples(frames: Buffer[]): Message[];
}

/** How long a catch-up request waits for its answer, in milliseconds (by the clock, not the event loop's). */
export const REPLY_TIMEOUT_MS: number;

/** How many event ids a cluster subscriber remembers to drop repeats across relays. */
export const RECENT_IDS: number;

/** The last `capacity` event ids seen, oldest forgotten first. */
export class RecentIds {
  constructor(capacity?: number);
  capacity: number;
  /** false when the id is already remembered (a repeat). */
  add(eventId: string): boolean;
}

/**
 * A Journal whose lines also say which relay (its PUB endpoint) published them ("relay" at the end). On start the
 * last line of each relay is that relay's position, and the lines' event ids are remembered.
 */
export class ClusterJournal extends Journal {
  constructor(path?: string | null);
  /** PUB endpoint -> the relay_seq of the last message handled from that relay. */
  positions: Map<string, number>;
  recent: RecentIds;
  handleFrom(relay: string, topic: Buffer, body: Buffer, meta: Meta): void;
}

/**
 * Several relays sharing one bot's shards, each given as [pubEndpoint, replayEndpoint]: one Subscriber per relay,
 * relay_seq checked per relay, a gap filled from that relay's own replay endpoint, and an event_id already handled
 * (from any relay) dropped. Messages without an event_id (relay.shard) are never dropped.
 */
export class ClusterSubscriber {
  constructor(relays: Array<[pubEndpoint: string, replayEndpoint: string]>, curve?: CurveKeys | null,
              rcvhwm?: number);
  readonly subscribers: Subscriber[];
  /** PUB endpoint -> the node named in its last message's metadata ("" for contract 1). */
  readonly nodes: Map<string, string>;
  /** Messages handed to the journal, and repeats dropped. */
  handled: number;
  repeats: number;
  /**
   * Hands every message of every relay to the journal once, each relay's gaps filled from that relay; catches up
   * first for every relay with a position. Resolves after `count` live messages, or never.
   */
  run(journal: ClusterJournal, delay?: number, count?: number | null): Promise<void>;
  close(): void;
}
