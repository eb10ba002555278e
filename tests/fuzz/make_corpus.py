#!/usr/bin/env python3
"""Writes the hand-made seed inputs of tests/fuzz/corpus (the files named seed-*); run from anywhere.

Inputs found by fuzzing (crash-*, or minimised ones) are added to the corpus directories by scripts/fuzz.sh and
stay there; this script does not touch them. The formats are described at the top of each fuzz_*.cpp.
"""
import glob
import json
import os
import struct

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")
FIXTURES = os.path.join(HERE, "..", "data", "fixtures")
CONFIGS = os.path.join(HERE, "..", "data", "config")


def write(target, name, data):
    os.makedirs(os.path.join(CORPUS, target), exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(CORPUS, target, "seed-" + name), "wb") as f:
        f.write(data)


def cuts(*lengths):
    """split_input.hpp's prefix: how many cuts, then the first pieces' lengths."""
    return bytes([len(lengths), *lengths])


def server_frame(opcode, payload, fin=True):
    if isinstance(payload, str):
        payload = payload.encode()
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([n])
    elif n < 65536:
        head += bytes([126]) + struct.pack(">H", n)
    else:
        head += bytes([127]) + struct.pack(">Q", n)
    return head + payload


def client_frame(opcode, payload, mask=b"\x37\xfa\x21\x3d", fin=True):
    """A frame as a client sends it: the mask bit, the key after the length, the payload masked."""
    if isinstance(payload, str):
        payload = payload.encode()
    head = server_frame(opcode, b"", fin)[:1]
    plain = server_frame(opcode, payload, fin)
    lengths = plain[1:len(plain) - len(payload)]
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + bytes([lengths[0] | 0x80]) + lengths[1:] + mask + masked


def client_frames():
    identify = json.dumps({"op": 2, "d": {"token": "Bot 102005927.abc", "intents": 1073741827,
                                          "shard": [0, 1], "properties": {}}}).encode()
    write("client_frames", "identify", cuts() + client_frame(1, identify))
    write("client_frames", "identify-cut-in-key", cuts(1, 2, 3) + client_frame(1, identify))
    write("client_frames", "heartbeat-then-resume",
          cuts(9) + client_frame(1, '{"op":1,"d":42}', b"\x9c\x01\xe5\x78") +
          client_frame(1, '{"op":6,"d":{"token":"Bot 1.x","session_id":"s","seq":42}}'))
    write("client_frames", "fragmented-with-ping",
          cuts(3, 7, 2) + client_frame(1, "hel", fin=False) + client_frame(9, "ping!", b"\x01\x02\x03\x04") +
          client_frame(0, "lo", fin=False) + client_frame(10, "") + client_frame(0, " world", b"\xff\0\xff\0"))
    write("client_frames", "medium-length", cuts(2, 2, 4) + client_frame(1, "x" * 301))
    write("client_frames", "long-length", cuts(1, 9, 4) + client_frame(2, bytes(range(256)) * 274))
    write("client_frames", "zero-mask", cuts() + client_frame(1, "plain", b"\0\0\0\0"))
    write("client_frames", "close-with-reason", cuts() + client_frame(8, struct.pack(">H", 1000) + b"bye"))
    write("client_frames", "close-empty", cuts() + client_frame(8, b""))
    write("client_frames", "close-bad-utf8", cuts() + client_frame(8, struct.pack(">H", 1000) + b"\xff\xfe"))
    write("client_frames", "unmasked", cuts() + server_frame(1, "hello"))
    write("client_frames", "unmasked-after-masked",
          cuts(4) + client_frame(1, "one") + client_frame(1, "fr", fin=False) + server_frame(9, "p"))
    write("client_frames", "rsv1", cuts() + bytes([0xC1, 0x81, 1, 2, 3, 4]) + b"x")
    write("client_frames", "bad-utf8-across-fragments",
          cuts(8) + client_frame(1, b"caf\xc3", fin=False) + client_frame(0, b"(", fin=True))
    write("client_frames", "length-msb", cuts() + bytes([0x81, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4]))


def frame_reader():
    hello = open(os.path.join(FIXTURES, "hello.json"), "rb").read()
    ready = open(os.path.join(FIXTURES, "ready.json"), "rb").read()
    write("frame_reader", "hello", cuts() + server_frame(1, hello))
    write("frame_reader", "ready-cut", cuts(1, 1, 2, 5) + server_frame(1, ready))
    write("frame_reader", "fragmented-with-ping",
          cuts(3, 7, 2) + server_frame(1, "hel", fin=False) + server_frame(9, "ping!") +
          server_frame(0, "lo", fin=False) + server_frame(0, " world"))
    write("frame_reader", "medium-length", cuts(2, 2) + server_frame(1, "x" * 300))
    write("frame_reader", "long-length", cuts(1, 9) + server_frame(2, b"\0" * 70000))
    write("frame_reader", "close-with-reason", cuts() + server_frame(8, struct.pack(">H", 1000) + b"bye"))
    write("frame_reader", "close-1006", cuts() + server_frame(8, struct.pack(">H", 1006)))
    write("frame_reader", "close-empty", cuts() + server_frame(8, b""))
    write("frame_reader", "close-one-byte", cuts() + server_frame(8, b"\x03"))
    write("frame_reader", "close-bad-utf8", cuts() + server_frame(8, struct.pack(">H", 1000) + b"\xff\xfe"))
    write("frame_reader", "masked", cuts() + bytes([0x81, 0x85, 1, 2, 3, 4]) + b"hello")
    write("frame_reader", "rsv1", cuts() + bytes([0xC1, 0x01]) + b"x")
    write("frame_reader", "continuation-first", cuts() + server_frame(0, "x"))
    write("frame_reader", "bad-utf8-text", cuts() + server_frame(1, b"\xc3\x28"))
    write("frame_reader", "pong-and-binary", cuts(3) + server_frame(10, "") + server_frame(2, b"\x00\x01"))
    write("frame_reader", "length-msb", cuts() + bytes([0x81, 127, 0x80, 0, 0, 0, 0, 0, 0, 1]) + b"x")


KEY = "dGhlIHNhbXBsZSBub25jZQ=="
ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def upgrade_response():
    ok = ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          f"Sec-WebSocket-Accept: {ACCEPT}\r\n\r\n")
    write("upgrade_response", "accepted", cuts() + ok.encode())
    write("upgrade_response", "accepted-then-frame", cuts(5, 30, 1) + ok.encode() + server_frame(1, "{}"))
    write("upgrade_response", "lowercase-keep-alive",
          cuts(40) + ("HTTP/1.1 101 ok\r\nupgrade: WebSocket\r\nconnection: keep-alive, upgrade\r\n"
                      f"sec-websocket-accept:{ACCEPT}\r\nServer: x\r\n\r\n").encode())
    write("upgrade_response", "status-200", cuts() + b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    write("upgrade_response", "status-1010", cuts() + ok.replace("101 ", "1010 ").encode())
    write("upgrade_response", "http10", cuts() + ok.replace("HTTP/1.1", "HTTP/1.0").encode())
    write("upgrade_response", "wrong-accept", cuts() + ok.replace(ACCEPT, "AAAA" + ACCEPT[4:]).encode())
    write("upgrade_response", "obs-fold",
          cuts() + ok.replace("Upgrade: websocket\r\n", "Upgrade:\r\n websocket\r\n").encode())
    write("upgrade_response", "space-before-colon",
          cuts() + ok.replace("Upgrade: websocket", "Upgrade : websocket").encode())
    write("upgrade_response", "extension",
          cuts() + ok.replace("\r\n\r\n", "\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n").encode())
    write("upgrade_response", "protocol",
          cuts() + ok.replace("\r\n\r\n", "\r\nSec-WebSocket-Protocol: chat\r\n\r\n").encode())
    write("upgrade_response", "no-blank-line", cuts() + ok[:-2].encode())


def frame_decoder():
    for path in sorted(glob.glob(os.path.join(FIXTURES, "*.json"))):
        data = open(path, "rb").read()
        try:
            if "op" not in json.loads(data):
                continue
        except (ValueError, TypeError):
            continue
        write("frame_decoder", os.path.basename(path)[:-5], data)
    # The malformed frames of issue 13 and the near misses around them.
    cases = {
        "trailing-bytes": '{"op":0,"s":1,"t":"X","d":{}} trailing',
        "d-f": '{"op":0,"s":1,"t":"X","d": f}',
        "leading-zero": '{"op":0,"s":01,"t":"X","d":{}}',
        "bare-dot": '{"op":0,"s":1,"t":"X","d":1.}',
        "bad-escape": '{"op":0,"s":1,"t":"X","d":"\\x"}',
        "lone-surrogate": '{"op":0,"s":1,"t":"X","d":"\\ud800"}',
        "nul": '{"op":0,"s":1,"t":"X","d":nul}',
        "tru": '{"op":0,"s":1,"t":"X","d":tru}',
        "op-wraps": '{"op":4294967309,"d":{"plain_token":"a","event_ts":"1"}}',
        "op-negative": '{"op":-1}',
        "s-null": '{"op":11,"s":null}',
        "escaped-t": '{"op":0,"s":2,"t":"READ\\u0059","d":{"session_id":"a\\"b"}}',
        "deep": '{"op":0,"d":' + "[" * 1100 + "]" * 1100 + "}",
        "big-number": '{"op":0,"d":1e999}',
        "bigint": '{"op":0,"d":123456789012345678901234567890}',
        "duplicate-op": '{"op":0,"op":13,"d":{}}',
        "reconnect-bool": '{"op":7,"d":true}',
        "invalid-session": '{"op":9,"d":false}',
    }
    for name, text in cases.items():
        write("frame_decoder", name, text)
    write("frame_decoder", "bad-utf8", b'{"op":0,"t":"X","d":"\xff"}')
    write("frame_decoder", "overlong-utf8", b'{"op":0,"t":"X","d":"\xc0\xaf"}')


WEBHOOK_SECRET = "DG5g3B4j9X2KOErG"
NOW = "1725442341"


def webhook_key():
    seed = (WEBHOOK_SECRET * 32)[:32].encode()
    return Ed25519PrivateKey.from_private_bytes(seed)


def webhook_request(flags, body, method="POST", path="/qq/webhook", signature=None, timestamp=NOW):
    if isinstance(body, str):
        body = body.encode()
    if signature is None:
        signature = webhook_key().sign(timestamp.encode() + body).hex()
    return bytes([flags]) + f"{method}\n{path}\n{signature}\n{timestamp}\n".encode() + body


def webhook_handler():
    event = open(os.path.join(FIXTURES, "group_at_message_create.json"), "rb").read()
    validation = open(os.path.join(FIXTURES, "webhook_validation_request.json"), "rb").read()
    write("webhook_handler", "signed-event", webhook_request(3, event))
    write("webhook_handler", "signed-event-padded", webhook_request(3 | 8, event))
    write("webhook_handler", "signed-small-event",
          webhook_request(3, '{"op":0,"id":"X:1","t":"GROUP_AT_MESSAGE_CREATE","d":{"content":"hi"}}'))
    write("webhook_handler", "signed-upper-hex",
          webhook_request(3, '{"op":0,"t":"X","d":{}}', signature=webhook_key().sign(
              NOW.encode() + b'{"op":0,"t":"X","d":{}}').hex().upper()))
    write("webhook_handler", "harness-signed-event", webhook_request(7, '{"op":0,"t":"X","d":[1,2]}'))
    write("webhook_handler", "unsigned-event", webhook_request(0, event))
    write("webhook_handler", "bad-signature", webhook_request(3, event, signature="00" * 64))
    write("webhook_handler", "short-signature", webhook_request(3, event, signature="abc"))
    write("webhook_handler", "stale", webhook_request(3, event, timestamp="1725440000"))
    write("webhook_handler", "signed-other-body",
          webhook_request(3, '{"op":0,"t":"X","d":{}} ',
                          signature=webhook_key().sign(NOW.encode() + b'{"op":0,"t":"X","d":{}}').hex()))
    write("webhook_handler", "validation-unsigned", webhook_request(0, validation))
    write("webhook_handler", "validation-signed", webhook_request(3, validation))
    write("webhook_handler", "validation-without-d", webhook_request(0, '{"op":13}'))
    write("webhook_handler", "signed-heartbeat", webhook_request(3, '{"op":1,"d":5}'))
    write("webhook_handler", "wrong-path", webhook_request(3, event, path="/other"))
    write("webhook_handler", "get", webhook_request(3, event, method="GET"))


def replay_request():
    for name, text in {
        "since-0": '{"since":0}',
        "since-max": '{"since":5,"max":10}',
        "max-zero": '{"since":5,"max":0}',
        "max-huge": '{"since":1,"max":18446744073709551615}',
        "negative": '{"since":-1}',
        "string-since": '{"since":"1"}',
        "array": '[{"since":1}]',
        "not-json": "since=1",
        "trailing": '{"since":1} x',
        "duplicate": '{"since":1,"since":2}',
        "float": '{"since":1.0}',
    }.items():
        write("replay_request", name, text)


def api_request():
    for name, text in {
        "c2c-reply": '/v2/users/U1/messages\n{"content":"hi","msg_type":0,"msg_id":"M1"}',
        "group-event-reply": '/v2/groups/G1/messages\n{"msg_type":0,"event_id":"E1","content":"x"}',
        "botpy-nulls": '/v2/groups/G1/messages\n{"msg_id":"M","msg_seq":null,"embed":null,"group_openid":"G1"}',
        "own-seq": '/channels/1/messages\n{"msg_id":"M","msg_seq":3}',
        "empty-object": '/dms/1/messages\n {\t}',
        "not-object": '/v2/users/U/files\n[1,2]',
        "query": '/channels/1/messages/2?hidetip=false\n',
        "odd-path": '//v2//users\n{"msg_id":1}',
    }.items():
        write("api_request", name, text)


def http_request():
    for name, text in {
        "post-json": "POST /v2/users/U/messages HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}",
        "pipelined": "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\nConnection: close\r\n\r\n",
        "chunked": "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;x\r\nabc\r\n0\r\nT: 1\r\n\r\n",
        "smuggle": "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        "continue": "PUT /f HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx",
        "http10": "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        "leading-crlf": "\r\n\r\nGET / HTTP/1.1\r\n\r\n",
    }.items():
        write("http_request", name, text)


def http_response():
    # The first byte: even reads answers to GET, odd to HEAD.
    for name, text in {
        "length": "\0HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
        "two": "\0HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\naHTTP/1.1 204 No Content\r\n\r\n",
        "chunked": "\0HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x\r\nabc\r\n0\r\nT: 1\r\n\r\n",
        "until-close": "\0HTTP/1.1 200 OK\r\n\r\nthe rest",
        "smuggle": "\0HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        "interim": "\0HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
        "head": "\1HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nHTTP/1.0 200 OK\r\n\r\n",
        "truncated": "\0HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
    }.items():
        write("http_response", name, text)


def fnv1a(data):
    h = 2166136261
    for b in data:
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return h


def record(seq, topic, body, meta):
    payload = topic + body + meta
    return struct.pack("<IQIIII", 0x314A5251, seq, len(topic), len(body), len(meta), fnv1a(payload)) + payload


def journal_reader():
    one = record(1, b"qq.GROUP_AT_MESSAGE_CREATE", b'{"op":0,"d":{}}', b'{"relay_seq":1}')
    two = record(2, b"qq.READY", b"{}", b"")
    write("journal_reader", "two-records", one + two)
    write("journal_reader", "torn-tail", one + two[:-3])
    write("journal_reader", "torn-header", one + two[:10])
    write("journal_reader", "bad-checksum", one[:-1] + b"X" + two)
    write("journal_reader", "empty-record", record(7, b"", b"", b""))
    write("journal_reader", "huge-sizes", struct.pack("<IQIIII", 0x314A5251, 3, 0xFFFFFFFF, 0xFFFFFFFF, 5, 0))
    write("journal_reader", "wrong-magic", b"QRJ2" + one[4:])


def state_decoder():
    good = ('{"format":"qq-gateway-relay-state","version":1,"app_id":"102000000","saved_at_us":1725442341000000,'
            '"relay_seq":42,"relay_seq_reserved":1042,"shards":[\n'
            '{"shard":[0,2],"session_id":"082ee18c-0be3-491b-9d8b-fbd95c51673a","seq":7},\n'
            '{"shard":[1,2],"session_id":"s\\u00e9\\"ssion","seq":0}]}\n')
    write("state_decoder", "two-shards", good)
    write("state_decoder", "no-shards",
          '{"format":"qq-gateway-relay-state","version":1,"app_id":"102000000","saved_at_us":0,'
          '"relay_seq":0,"shards":[]}')
    write("state_decoder", "other-bot", good.replace("102000000", "1"))
    write("state_decoder", "version-2", good.replace('"version":1', '"version":2'))
    write("state_decoder", "reserved-below", good.replace("1042", "1"))
    write("state_decoder", "duplicate-shard", good.replace("[1,2]", "[0,2]"))
    write("state_decoder", "mixed-layouts", good.replace("[1,2]", "[1,3]"))
    write("state_decoder", "torn", good[:100])
    write("state_decoder", "negative-seq", good.replace('"seq":7', '"seq":-7'))


def config_loader():
    full = open(os.path.join(CONFIGS, "full.toml")).read()
    rest = full[full.index("[gateway]"):]
    head = '[bot]\napp_id = "102000123"\nintents = ["GUILDS"]\n'
    for form in range(32):
        write("config_loader", f"full-form-{form}", bytes([form]) + b"\0\0\0" + rest.encode())
    write("config_loader", "secret-then-app-id", bytes([0]) + b"\0ab\0cd\0app_id = \"1\"\nintents = 1\n")
    write("config_loader", "bad-escape-in-secret", bytes([0]) + b"\0\\q\0\0" + head.encode())
    write("config_loader", "newline-in-secret", bytes([0]) + b"\0a\nb\0\0")
    write("config_loader", "multiline-bad-escape", bytes([4]) + b"\0line1\n\\q\0\n\0")
    write("config_loader", "secret-not-a-string", bytes([24]) + b"\0\0\"\0" + head.encode())
    write("config_loader", "typo-key", bytes([0]) + b"\0\0\0client_secrt = \"x\"\n")
    write("config_loader", "unterminated", bytes([0]) + b"\0\0\0\n" + b"x = \"")
    write("config_loader", "integer-overflow-near",
          bytes([8]) + b"\0\0\0\n[gateway]\nshards = 123456789012345678901234567890\n")


def config_cluster(form, cluster, before=""):
    """A config_loader input whose secret line is cluster.redis (form bit 5), with the rest of the file after."""
    full = open(os.path.join(CONFIGS, "full.toml")).read()
    rest = full[full.index("[gateway]"):]
    bot = 'bot.app_id = "102000123"\nbot.client_secret = "x"\nbot.intents = ["GUILDS"]\n'
    return bytes([32 | form]) + bot.encode() + b"\0" + before.encode() + b"\0\0" + (cluster + rest).encode()


def config_loader_cluster():
    # The fuzzer's line sets cluster.redis with a password; these are the other keys, valid and not.
    enabled = "\nenabled = true\nnode = \"relay-a\"\nlease_ms = 10000\nkey_prefix = \"qq-relay:\"\n"
    for form in range(4):
        write("config_loader", f"cluster-redis-form-{form}", config_cluster(form << 3, enabled if form in (0, 3) else ""))
    write("config_loader", "cluster-password-at-sign", config_cluster(0, enabled, "p@ss/w:rd"))
    write("config_loader", "cluster-password-and-file",
          config_cluster(0, enabled + 'password_file = "redis.pass"\n'))
    write("config_loader", "cluster-bad-node", config_cluster(0, '\nenabled = true\nnode = "relay a/1"\n'))
    write("config_loader", "cluster-node-too-long", config_cluster(0, f'\nnode = "{"n" * 65}"\n'))
    write("config_loader", "cluster-lease-too-short", config_cluster(0, "\nlease_ms = 999\n"))
    write("config_loader", "cluster-lease-too-long", config_cluster(0, "\nlease_ms = 600001\n"))
    write("config_loader", "cluster-lease-not-integer", config_cluster(0, '\nlease_ms = "10s"\n'))
    write("config_loader", "cluster-dedupe-out-of-range", config_cluster(0, "\ndedupe_ms = 0\n"))
    write("config_loader", "cluster-empty-prefix", config_cluster(0, '\nkey_prefix = ""\n'))
    write("config_loader", "cluster-unknown-key", config_cluster(0, "\nleases_ms = 10000\n"))
    # The secret line as the bot's (its whole [bot] table) and [cluster] after it, with URLs to refuse or take.
    for name, url in [("rediss", "rediss://:pw@redis.example:6380/0"), ("user-name", "redis://user:pw@h:6379"),
                      ("bad-port", "redis://:pw@127.0.0.1:65536/0"), ("bad-db", "redis://:pw@127.0.0.1/x"),
                      ("ipv6", "redis://:pw@[::1]:6379/2"), ("ipv6-unclosed", "redis://:pw@[::1:6379"),
                      ("no-scheme", "127.0.0.1:6379"), ("space", "redis://:p w@127.0.0.1")]:
        write("config_loader", f"cluster-url-{name}",
              bytes([0]) + b"\0\0\0" + f'app_id = "102000123"\nintents = 1\n[cluster]\nenabled = true\n'
              f'redis = "{url}"\n[gateway]\nshards = 2\n'.encode())


def resp(value):
    """value in RESP as Redis sends it: int -> integer, bytes/str -> bulk string, None -> nil, list -> array,
    ("+", text) status, ("-", text) error."""
    if isinstance(value, bool):
        raise TypeError(value)
    if isinstance(value, int):
        return b":%d\r\n" % value
    if value is None:
        return b"$-1\r\n"
    if isinstance(value, tuple):
        return value[0].encode() + value[1].encode() + b"\r\n"
    if isinstance(value, list):
        return b"*%d\r\n" % len(value) + b"".join(resp(v) for v in value)
    if isinstance(value, str):
        value = value.encode()
    return b"$%d\r\n" % len(value) + value + b"\r\n"


def redis_reply():
    """The replies as redis-server 7 sends them for the scripts in daemon/cluster/scripts (checked byte for byte
    against a real server), then shapes no script returns."""
    session = "a7e3c0de-1b2f-4c55-9e10-3f6b2d0e9a11"
    replies = {
        "claim-won": [4, "relay-a"],
        "claim-held-by-other": [3, "relay-b"],
        "load-position": ["7", session, "1234", "99"],
        "load-position-none": [],
        "load-position-field-lost": [None, session, "1234", None],
        "load-position-json-special": ["7", 'se"ss\\ion/\u4f1a', "1", "2"],
        "load-position-not-utf8": [b"7", b"s\xff\xfe", b"1", b"2"],
        "load-position-negative": ["7", session, "-1", "2"],
        "heartbeat-members": ["relay-b", "relay-a", "relay-c"],
        "heartbeat-alone": ["relay-a"],
        "renewed": 1,
        "renew-lost": 0,
        "saved": 1,
        "pace-wait": 4200,
        "seen-first": ("+", "OK"),
        "seen-repeat": None,
        "noscript": ("-", "NOSCRIPT No matching script. Please use EVAL."),
        "stale-token": ("-", "STALE_TOKEN 3 < 4"),
        "stale-token-lease": ("-", "STALE_TOKEN 3: the lease is 4 relay-b"),
        "wrongtype": ("-", "WRONGTYPE Operation against a key holding the wrong kind of value"),
        "nested": [[1, ["relay-a"]], [], None],
    }
    for name, value in replies.items():
        write("redis_reply", name, resp(value))
    # A pipelined stream, and the shapes hiredis must stop at: an array announcing far more than it holds, a
    # reply cut short, a negative count, a bulk length past the data.
    write("redis_reply", "pipeline", b"".join(resp(v) for v in replies.values()))
    write("redis_reply", "huge-array-header", b"*2147483647\r\n:1\r\n")
    write("redis_reply", "cut-short", resp(["7", session, "1234", "99"])[:-9])
    write("redis_reply", "negative-count", b"*-2\r\n$-5\r\n:-9223372036854775808\r\n")
    write("redis_reply", "big-numbers", resp(["18446744073709551615", "s", "18446744073709551616", "0007"]))


def dispatch_fixtures():
    """The fixtures that are Dispatch frames (op 0 with a t), by name."""
    out = {}
    for path in sorted(glob.glob(os.path.join(FIXTURES, "*.json"))):
        data = open(path, "rb").read()
        try:
            frame = json.loads(data)
        except ValueError:
            continue
        if isinstance(frame, dict) and frame.get("op") == 0 and "t" in frame:
            out[os.path.basename(path)[:-5]] = data
    return out


def frame_layout():
    for name, data in dispatch_fixtures().items():
        write("frame_layout", name, data)
    for name in ("identify", "resume", "heartbeat", "hello"):
        write("frame_layout", name, open(os.path.join(FIXTURES, name + ".json"), "rb").read())
    for name, text in {
        "webhook-no-s": '{"op":0,"id":"C2C:1","d":{"author":{"user_openid":"U1"},"content":"hi"},"t":"C2C_MESSAGE_CREATE"}',
        "escaped-s": '{"op":0,"\\u0073":5,"t":"A","s":6,"d":{"guild_id":"123"}}',
        "repeated-t": '{"op":0,"t":"","t":"AT_MESSAGE_CREATE","s":1,"s":2,"d":{}}',
        "t-not-string": '{"op":0,"t":1,"t":"AT_MESSAGE_CREATE","d":{}}',
        "nested-brackets": '{"op":0,"t":"X","d":{"a":["}",{"]":"\\""}],"guild_id":42}}',
        "guild-create-id": '{"op":0,"s":3,"t":"GUILD_CREATE","d":{"id":"18700000000001"}}',
        "group-openid": '{"op":0,"t":"GROUP_AT_MESSAGE_CREATE","d":{"guild_id":"x","group_openid":"G"}}',
        "empty-object": " { } ",
        "whitespace": '\t{ "op" : 0 ,\r\n "s" : null , "t" : "X" , "d" : [ ] }\n',
        "not-object": '[{"op":0}]',
        "unterminated": '{"op":0,"t":"X","d":{"a":"\\',
    }.items():
        write("frame_layout", name, text)


def saved_sessions():
    line = ('{"session_id":"6f0c0a4e-1b2c-4d3e-8f00-0123456789ab","client":"alpha","intents":1107296256,'
            '"shard":[1,4],"acked_s":3,"acked_relay_seq":120,"sent_s":7,"sent_relay_seq":131}')
    write("saved_sessions", "one", line + "\n")
    write("saved_sessions", "two-and-blank",
          line + "\n\n  \r\n" + line.replace("6f0c", "7e1d").replace('"acked_s":3', '"acked_s":7') + "\n")
    write("saved_sessions", "escaped-strings",
          line.replace('"alpha"', '"al\\u00e9\\"pha\\u0000"').replace("6f0c", "\\u00e9\\n") + "\n")
    write("saved_sessions", "bad-lines",
          line.replace("[1,4]", "[4,4]") + "\n" + line.replace('"acked_s":3', '"acked_s":0') + "\n" +
          line.replace('"sent_s":7', '"sent_s":2') + "\n" + line[:40] + "\n" + line.replace("1107296256", "-1") +
          "\n" + line.replace('"acked_relay_seq":120', '"acked_relay_seq":"120"') + "\n" + line + "\n")
    write("saved_sessions", "no-newline-at-end", line)
    write("saved_sessions", "lone-surrogates",
          line.replace('"alpha"', '"\\udc00"') + "\n" + line.replace('"alpha"', '"\\ud800x"') + "\n")


def gateway_steps(*steps):
    """fuzz_gateway_server's input: split_input.hpp's cuts around the steps, each a kind byte and its argument."""
    pieces = [bytes([kind]) + (arg.encode() if isinstance(arg, str) else bytes(arg)) for kind, arg in steps]
    assert all(len(p) < 256 for p in pieces[:-1]) and len(pieces) <= 16
    return cuts(*[len(p) for p in pieces[:-1]]) + b"".join(pieces)


def compact_fixture(name, **changes):
    frame = json.load(open(os.path.join(FIXTURES, name + ".json")))
    for key, value in changes.items():
        frame["d"][key] = value
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False)


def gateway_server():
    # Steps: 0 text, 1 identify [token, intents, index, count], 2 resume [token, session, offset],
    # 3 heartbeat [form, offset], 4 publish [template, key, count] or a JSON text, 5 tick [seconds / 4],
    # 6 reconnect [how], 7 other [0 drain, 1 slow, 2 restart, 3 closes arrive].
    identify = (1, [0, 0xFF ^ 0x80, 0, 1])
    publish = (4, [0, 3, 0x27])
    write("gateway_server", "identify-events-heartbeat",
          gateway_steps(identify, publish, (3, [0, 0]), (5, [4]), (4, [1, 9, 0x3e]), (3, [0, 0xFE])))
    write("gateway_server", "reconnect-resume",
          gateway_steps(identify, publish, (6, [0]), (4, [2, 1, 5]), (2, [0, 0, 0]), (4, [3, 2, 2])))
    write("gateway_server", "sharded-resume-behind",
          gateway_steps((1, [0, 0x7F, 1, 2]), publish, (4, [1, 7, 0x47]), (3, [0, 0xFD]), (6, [0]),
                        (2, [0, 0, 0xFE]), (4, [0, 1, 7])))
    write("gateway_server", "slow-client-overflow",
          gateway_steps(identify, (7, [1]), publish, publish, (4, [2, 4, 0x3f]), (7, [0]), (7, [3]), (6, [2]),
                        (2, [0, 0, 0])))
    write("gateway_server", "restart-then-resume",
          gateway_steps(identify, publish, (3, [0, 0xFF]), (7, [2]), (4, [0, 5, 3]), (2, [0, 0, 0]),
                        (3, [2, 0])))
    write("gateway_server", "takeover",
          gateway_steps(identify, publish, (6, [2]), (2, [0, 0, 0]), (4, [4, 0, 2]), (5, [9]), (7, [3])))
    # Three sessions, two detached at the same instant (the limit is 2), the third taken over by a Resume: the
    # use after free of issue 16's fuzzing.
    identify_guild = (1, [0, 0x7F, 0, 1])
    write("gateway_server", "takeover-at-detached-limit",
          gateway_steps(identify_guild, (6, [0]), identify_guild, (6, [0]), identify_guild, (6, [2]), (2, [0, 2, 0]),
                        (4, [0, 1, 3])))
    write("gateway_server", "silent-client-times-out",
          gateway_steps(identify, publish, (5, [9]), (5, [60]), (7, [3]), (6, [2]), (2, [0, 0, 0]),
                        (5, [200]), (5, [200]), (6, [2]), (2, [0, 0, 0])))
    write("gateway_server", "bad-identifies",
          gateway_steps((1, [2, 3, 0, 1]), (6, [0]), (1, [0, 0, 0, 1]), (6, [0]), (1, [0, 0xFF, 0, 1]), (6, [0]),
                        (1, [0, 3, 3, 2]), (6, [0]), (1, [1, 3, 0, 0]), (2, [1, 0, 0])))
    fixture_identify = compact_fixture("identify", token="QQBot good", intents=1 << 30)
    fixture_resume = compact_fixture("resume", token="QQBot good", session_id="$s", seq=1)
    heartbeat = json.dumps(json.load(open(os.path.join(FIXTURES, "heartbeat.json"))), separators=(",", ":"))
    write("gateway_server", "fixture-texts",
          gateway_steps((0, fixture_identify), (0, heartbeat), publish, (6, [0]), (0, fixture_resume),
                        (0, fixture_identify), (0, '{"op":4,"d":{}}'), (6, [0]), (0, "not json"), (6, [0]),
                        (0, '{"op":1,"d":1} x')))
    events = dispatch_fixtures()
    for name in ("at_message_create", "group_at_message_create", "c2c_message_create", "guild_create"):
        write("gateway_server", "fixture-event-" + name.replace("_", "-"),
              gateway_steps((1, [0, 0xFF ^ 0x80, 0, 1]), (4, [6, 1, 1]),
                            (4, json.dumps(json.loads(events[name]), separators=(",", ":"),
                                           ensure_ascii=False).encode())))


def platform_answers():
    for name in ("access_token_response", "gateway_bot_response", "gateway_response"):
        with open(os.path.join(FIXTURES, name + ".json"), "rb") as f:
            write("platform_answers", name.replace("_", "-"), f.read())
    write("platform_answers", "token-number", '{"access_token":"abc.DEF-123","expires_in":7200}')
    write("platform_answers", "token-crlf", '{"access_token":"a\\r\\nX-Injected: 1","expires_in":"7200"}')
    write("platform_answers", "token-unicode", '{"access_token":"\\u00e9\\u0000","expires_in":1}')
    write("platform_answers", "gateway-huge-concurrency",
          '{"url":"wss://api.sgroup.qq.com/websocket","shards":2,"session_start_limit":'
          '{"total":1000,"remaining":999,"reset_after":14400000,"max_concurrency":4294967296}}')
    write("platform_answers", "gateway-ws-url", '{"url":"ws://api.sgroup.qq.com/websocket","shards":4096}')
    write("platform_answers", "gateway-bad-shards", '{"url":"wss://a/b","shards":-1}')
    write("platform_answers", "api-error", '{"code":100016,"message":"invalid appid or secret"}')
    write("platform_answers", "bare-url", "wss://api.sgroup.qq.com:443/websocket?x=1")


def client_keys():
    key_a = "k" * 32
    key_b = "Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4cXV1eA"
    write("client_keys", "two-clients", f"# bots\necho-bot {key_a}\n\nshop.bot-2\t{key_b}\n")
    write("client_keys", "duplicate-key", f"a {key_a}\nb {key_a}\n")
    write("client_keys", "duplicate-name", f"a {key_a}\na {key_b}\n")
    write("client_keys", "short-key", "a shortkey\n")
    write("client_keys", "one-word", key_a + "\n")
    write("client_keys", "bad-name", f"a/b {key_a}\r\n")
    write("client_keys", "key-with-space", f"a {key_a} {key_b}\n")
    write("client_keys", "non-ascii-key", "a " + "\u00e9" * 20 + "\n")


def sub_format():
    meta = ('{"v":2,"app_id":"1","source":"gateway","shard":[1,2],"session_id":"s","seq":28,'
            '"event_id":"AT_MESSAGE_CREATE:x","relay_seq":28,"received_at_us":1699249038123456,"node":"relay-a"}')
    events = dispatch_fixtures()
    for name in ("at_message_create", "group_at_message_create", "c2c_message_create"):
        topic = name.upper().encode()
        body = json.dumps(json.loads(events[name]), separators=(",", ":"), ensure_ascii=False).encode()
        write("sub_format", name.replace("_", "-"),
              cuts(len(topic), min(len(body), 255)) + topic + body[:255] + meta.encode() + b"\x00")
    shard = b'{"state":"disconnected","code":4009,"reason":"a\\u001b[31m\\u009b\\u202e","will_resume":true}'
    write("sub_format", "relay-shard", cuts(11, len(shard)) + b"relay.shard" + shard + meta.encode() + b"\x28")
    write("sub_format", "not-json", cuts(1, 2) + b"T" + b"01" + b'{"a":1.}' + b"\x05")
    write("sub_format", "bad-utf8", cuts(2, 3) + b"T\xff" + b'"\xc3"' + b"{}" + b"\x10")


def server_upgrade():
    upgrade = ("GET /websocket HTTP/1.1\r\nHost: 127.0.0.1:8081\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{}\r\n")
    write("server_upgrade", "node-ws", upgrade.format(
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"))
    write("server_upgrade", "sub-protocol", upgrade.format("Sec-WebSocket-Protocol: chat\r\n"))
    write("server_upgrade", "two-keys", upgrade.format("Sec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEA==\r\n"))
    write("server_upgrade", "version-8", upgrade.replace("Version: 13", "Version: 8").format(""))
    write("server_upgrade", "short-key", upgrade.replace("dGhlIHNhbXBsZSBub25jZQ==", "dGhl").format(""))
    write("server_upgrade", "http-1.0", upgrade.replace("HTTP/1.1", "HTTP/1.0").format(""))
    write("server_upgrade", "post", upgrade.replace("GET", "POST").format("Content-Length: 0\r\n"))
    write("server_upgrade", "comma-lists", upgrade.replace("Upgrade: websocket", "Upgrade: h2c, WebSocket")
          .replace("Connection: Upgrade", "Connection: keep-alive, upgrade").format(""))


def key_file():
    public = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
    other = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"
    write("key_file", "two-keys-comments", f"# allowed subscribers\n{public}  bot-a\n\n  {other}\tbot-b\r\n")
    write("key_file", "too-large-group", "#" * 40 + "\n" + "~" * 40 + "\n")
    write("key_file", "short", public[:39] + "\n")
    write("key_file", "no-newline", public)


if __name__ == "__main__":
    frame_reader()
    client_frames()
    upgrade_response()
    frame_decoder()
    webhook_handler()
    replay_request()
    api_request()
    http_request()
    http_response()
    journal_reader()
    state_decoder()
    config_loader()
    config_loader_cluster()
    redis_reply()
    frame_layout()
    saved_sessions()
    gateway_server()
    platform_answers()
    client_keys()
    sub_format()
    server_upgrade()
    key_file()
