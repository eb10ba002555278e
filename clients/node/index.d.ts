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
