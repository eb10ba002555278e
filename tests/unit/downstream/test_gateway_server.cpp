#include <map>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <simdjson.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>
#include <catch2/catch.hpp>

#include "downstream/gateway_server.hpp"
#include "downstream/saved_session.hpp"
#include "protocol/intents.hpp"

using namespace relay;
using namespace relay::downstream;
using util::Millis;
using util::TimePoint;

namespace {

const std::uint32_t k_guild_messages = *protocol::intent_bit("PUBLIC_GUILD_MESSAGES");
const std::uint32_t k_groups = *protocol::intent_bit("GROUP_AND_C2C_EVENT");

struct FakeTransport final : Transport {
  struct Peer {
    std::vector<std::string> texts;
    std::size_t buffered = 0;
    std::optional<int> close_code;
    bool aborted = false;
  };
  std::map<ConnectionId, Peer> peers;
  // Each text adds its size to the connection's queue when set, as a socket that is not read would.
  bool count_bytes = false;

  void send_text(ConnectionId connection, std::string_view payload) override {
    auto& peer = peers[connection];
    REQUIRE_FALSE(peer.close_code);
    peer.texts.emplace_back(payload);
    if (count_bytes) {
      peer.buffered += payload.size();
    }
  }
  std::size_t buffered(ConnectionId connection) const override {
    const auto it = peers.find(connection);
    return it == peers.end() ? 0 : it->second.buffered;
  }
  void close(ConnectionId connection, int code, std::string_view) override {
    peers[connection].close_code = code;
  }
  void abort(ConnectionId connection) override { peers[connection].aborted = true; }
};

// One JSON member of a text, as simdjson reads it.
std::string member(const std::string& text, const char* pointer) {
  simdjson::dom::parser parser;
  simdjson::dom::element root = parser.parse(text);
  simdjson::dom::element value;
  if (root.at_pointer(pointer).get(value) != simdjson::SUCCESS) {
    return "<none>";
  }
  return simdjson::minify(value);
}

struct Fixture {
  FakeTransport transport;
  publish::Retention retention{100000, 1 << 30};
  std::uint64_t relay_seq = 100;
  TimePoint now{};
  std::unique_ptr<GatewayServer> server;

  explicit Fixture(GatewayServerSettings settings = {}) {
    retention.set_complete_after(relay_seq);
    make_server(settings);
  }
  void make_server(GatewayServerSettings settings = {}) {
    server = std::make_unique<GatewayServer>(
        settings, transport,
        [](std::string_view token, TimePoint) -> std::optional<std::string> {
          if (token == "QQBot good" || token == "QQBot good2") {
            return std::string("alpha");
          }
          if (token == "QQBot other") {
            return std::string("beta");
          }
          return std::nullopt;
        },
        retention, relay_seq);
    server->set_bot_user(R"({"id":"42","username":"bot","bot":true})");
  }

  // Publishes one message as the stage would: retention first, then every outlet.
  void publish_body(const std::string& body) {
    ++relay_seq;
    retention.add(relay_seq, "qq.X", body, "{}");
    publish::OutgoingMessage message;
    message.relay_seq = relay_seq;
    message.body = body;
    server->deliver(message);
  }
  // A guild message whose text is `content`; guild_id picks the shard.
  void guild_message(const std::string& content, const std::string& guild = "18700000000001") {
    publish_body(fmt::format(
        R"({{"op":0,"s":{},"t":"AT_MESSAGE_CREATE","id":"AT:{}","d":{{"guild_id":"{}","content":"{}"}}}})",
        relay_seq * 3, content, guild, content));
  }
  void group_message(const std::string& content) {
    publish_body(fmt::format(R"({{"op":0,"id":"G:{}","d":{{"group_openid":"ABC","content":"{}"}},)"
                             R"("t":"GROUP_AT_MESSAGE_CREATE"}})",
                             content, content));
  }

  void open(ConnectionId id) { server->on_open(id, now); }
  void text(ConnectionId id, const std::string& payload) { server->on_text(id, payload, now); }
  void identify(ConnectionId id, std::uint32_t intents, unsigned index = 0, unsigned count = 1,
                const char* token = "QQBot good") {
    open(id);
    text(id, fmt::format(R"({{"op":2,"d":{{"token":"{}","intents":{},"shard":[{},{}],"properties":{{}}}}}})",
                         token, intents, index, count));
  }
  std::vector<std::string>& texts(ConnectionId id) { return transport.peers[id].texts; }
  std::optional<int> close_code(ConnectionId id) { return transport.peers[id].close_code; }
  std::string session_id(ConnectionId id) { return member(texts(id).at(1), "/d/session_id"); }
  // The contents of the dispatches a connection was sent, with their s, from text `from` on.
  std::vector<std::string> contents(ConnectionId id, std::size_t from = 0) {
    std::vector<std::string> out;
    for (std::size_t i = from; i < texts(id).size(); ++i) {
      const auto& t = texts(id)[i];
      if (member(t, "/op") == "0" && member(t, "/t") != "\"READY\"" && member(t, "/t") != "\"RESUMED\"") {
        out.push_back(member(t, "/s") + ":" + member(t, "/d/content"));
      }
    }
    return out;
  }
};

}  // namespace

TEST_CASE("a session gets Hello, READY with s 1, then the events of its intents numbered from 2") {
  Fixture f;
  f.open(1);
  REQUIRE(f.texts(1).size() == 1);
  CHECK(f.texts(1)[0] == R"({"op":10,"d":{"heartbeat_interval":41250}})");
  f.text(1, R"({"op":2,"d":{"token":"QQBot good","intents":1073741824,"shard":[0,1]}})");
  REQUIRE(f.texts(1).size() == 2);
  const std::string& ready = f.texts(1)[1];
  CHECK(member(ready, "/t") == "\"READY\"");
  CHECK(member(ready, "/s") == "1");
  CHECK(member(ready, "/d/version") == "1");
  CHECK(member(ready, "/d/user") == R"({"id":"42","username":"bot","bot":true})");
  CHECK(member(ready, "/d/shard") == "[0,1]");
  CHECK(f.session_id(1).size() == 38);  // a quoted UUID

  f.guild_message("one");
  f.group_message("not asked for");
  f.publish_body(R"({"shard":[0,1],"state":"ready"})");  // a relay.shard message: never sent
  f.guild_message("two");
  CHECK(f.contents(1) == std::vector<std::string>{"2:\"one\"", "3:\"two\""});
  CHECK(f.server->counters().events_sent == 2);
  CHECK(f.server->live_sessions() == 1);
}

TEST_CASE("only s differs from the published bytes, and a webhook event without s gets one") {
  Fixture f;
  f.identify(1, k_guild_messages | k_groups);
  const std::string gateway =
      R"({"op":0,"s":977,"t":"AT_MESSAGE_CREATE","id":"AT:1","d":{"guild_id":"5","content":"a b"}})";
  f.publish_body(gateway);
  const std::string webhook =
      R"({"d":{"group_openid":"X","content":"c"},"id":"G:1","op":0,"t":"GROUP_AT_MESSAGE_CREATE"})";
  f.publish_body(webhook);
  REQUIRE(f.texts(1).size() == 4);
  CHECK(f.texts(1)[2] ==
        R"({"op":0,"s":2,"t":"AT_MESSAGE_CREATE","id":"AT:1","d":{"guild_id":"5","content":"a b"}})");
  CHECK(f.texts(1)[3] ==
        R"({"s":3,"d":{"group_openid":"X","content":"c"},"id":"G:1","op":0,"t":"GROUP_AT_MESSAGE_CREATE"})");
}

TEST_CASE("heartbeats are answered with op 11, with d, with s (Koishi) or with neither") {
  Fixture f;
  f.open(1);
  f.text(1, R"({"op":1,"d":null})");
  CHECK(f.texts(1).back() == R"({"op":11})");
  f.text(1, R"({"op":2,"d":{"token":"QQBot good","intents":1073741824}})");
  f.guild_message("a");
  f.text(1, R"({"op":1,"d":2})");
  CHECK(f.texts(1).back() == R"({"op":11})");
  f.text(1, R"({"op":1,"s":2})");
  CHECK(f.texts(1).back() == R"({"op":11})");
  f.text(1, R"({"op":1})");
  CHECK(f.texts(1).back() == R"({"op":11})");
  CHECK_FALSE(f.close_code(1));
}

TEST_CASE(
    "an Identify or a Resume without d is a decode error, read without handing the parser a null view") {
  // Found by fuzz_gateway_server: a frame without d leaves d_raw a null view, and simdjson's memcpy from a
  // null pointer is undefined even for 0 bytes (UBSan reports it).
  for (const char* frame : {R"({"op":2})", R"({"op":6})", R"({"op":6,"d":null,"d":""})"}) {
    INFO(frame);
    Fixture f;
    f.open(7);
    f.text(7, frame);
    CHECK(f.close_code(7) == 4002);
  }
}

TEST_CASE("what a client does wrong closes its connection with the platform's code") {
  struct Case {
    const char* frame;
    int code;
  };
  const std::vector<Case> cases = {
      {"not json", 4002},
      {R"({"op":0,"d":{}})", 4001},
      {R"({"op":5,"d":{}})", 4001},
      {R"({"d":{}})", 4002},
      {R"({"op":2,"d":{"intents":1}})", 4002},
      {R"({"op":2,"d":{"token":"QQBot bad","intents":1073741824}})", 4004},
      {R"({"op":2,"d":{"token":"QQBot good","intents":0}})", 4013},
      {R"({"op":2,"d":{"token":"QQBot good","intents":4}})", 4013},
      {R"({"op":2,"d":{"token":"QQBot good","intents":1073741824,"shard":[2,2]}})", 4010},
      {R"({"op":2,"d":{"token":"QQBot good","intents":1073741824,"shard":[0,0]}})", 4010},
      {R"({"op":2,"d":{"token":"QQBot good","intents":1073741824,"shard":"x"}})", 4010},
      {R"({"op":6,"d":{"token":"QQBot bad","session_id":"x","seq":1}})", 4004},
      {R"({"op":6,"d":{"token":"QQBot good","session_id":"x","seq":"one"}})", 4007},
  };
  for (const auto& c : cases) {
    INFO(c.frame);
    Fixture f;
    f.open(7);
    f.text(7, c.frame);
    CHECK(f.close_code(7) == c.code);
  }
  SECTION("intents the relay does not receive") {
    GatewayServerSettings settings;
    settings.allowed_intents = k_guild_messages;
    Fixture f(settings);
    f.identify(1, k_groups);
    CHECK(f.close_code(1) == 4014);
  }
}

TEST_CASE(
    "a Resume after a lost connection gets every missed event once, in order, with its s, then RESUMED") {
  Fixture f;
  f.identify(1, k_guild_messages);
  const std::string id = f.session_id(1);
  f.guild_message("a");  // s 2
  f.guild_message("b");  // s 3
  f.guild_message("c");  // s 4, sent but never read by the client
  f.server->on_closed(1, f.now);
  CHECK(f.server->detached_sessions() == 1);
  f.guild_message("d");  // s 5, published while the client was away
  f.group_message("x");  // not in scope
  f.guild_message("e");  // s 6
  f.open(2);
  f.text(2, R"({"op":6,"d":{"token":"QQBot good2","session_id":)" + id + R"(,"seq":3}})");
  CHECK(f.contents(2) == std::vector<std::string>{"4:\"c\"", "5:\"d\"", "6:\"e\""});
  CHECK(f.texts(2).back() == R"({"op":0,"s":6,"t":"RESUMED","d":""})");
  CHECK(f.server->counters().resumes == 1);
  f.guild_message("f");
  CHECK(f.contents(2).back() == "7:\"f\"");
  CHECK(f.server->live_sessions() == 1);
}

TEST_CASE(
    "a Resume that takes a session over from its old connection keeps it when detached ones are at the "
    "limit") {
  // Found by fuzz_gateway_server: closing the old connection detached the session, and the limit on
  // detached sessions could forget that very session (the newest, tied with others detached at the same
  // instant), which the Resume went on using after it was freed.
  GatewayServerSettings settings;
  settings.max_detached = 2;
  Fixture f(settings);
  f.identify(1, k_guild_messages);
  f.identify(2, k_guild_messages);
  f.identify(3, k_guild_messages);
  const std::string id = f.session_id(3);
  f.server->on_closed(1, f.now);
  f.server->on_closed(2, f.now);
  f.guild_message("a");  // s 2 of each live session
  f.open(4);
  f.text(4, R"({"op":6,"d":{"token":"QQBot good","session_id":)" + id + R"(,"seq":2}})");
  CHECK(f.close_code(3) == 4009);
  CHECK(f.texts(4).back() == R"({"op":0,"s":2,"t":"RESUMED","d":""})");
  CHECK(f.server->live_sessions() == 1);
  CHECK(f.server->detached_sessions() == 1);
  f.guild_message("b");
  CHECK(f.contents(4) == std::vector<std::string>{"3:\"b\""});
}

TEST_CASE("a Resume that cannot be honoured gets op 9 or 4007") {
  Fixture f;
  f.identify(1, k_guild_messages);
  const std::string id = f.session_id(1);
  f.guild_message("a");
  f.server->on_closed(1, f.now);

  f.open(2);
  f.text(2, R"({"op":6,"d":{"token":"QQBot good","session_id":"nope","seq":1}})");
  CHECK(f.texts(2).back() == R"({"op":9,"d":false})");
  f.open(3);
  f.text(3, R"({"op":6,"d":{"token":"QQBot other","session_id":)" + id + R"(,"seq":2}})");
  CHECK(f.texts(3).back() == R"({"op":9,"d":false})");
  f.open(4);
  f.text(4, R"({"op":6,"d":{"token":"QQBot good","session_id":)" + id + R"(,"seq":0}})");
  CHECK(f.close_code(4) == 4007);
  // The session is still there for a correct Resume.
  f.open(5);
  f.text(5, R"({"op":6,"d":{"token":"QQBot good","session_id":)" + id + R"(,"seq":2}})");
  CHECK(f.texts(5).back() == R"({"op":0,"s":2,"t":"RESUMED","d":""})");
  // op 9 is followed by 4006, which every SDK takes as "identify anew".
  CHECK(f.close_code(2) == 4006);
  CHECK(f.close_code(3) == 4006);
}

TEST_CASE("a Resume beyond the retention gets op 9 and the session is gone") {
  FakeTransport transport;
  Fixture f;
  f.retention = publish::Retention(3, 1 << 30);
  f.retention.set_complete_after(f.relay_seq);
  f.make_server();
  f.identify(1, k_guild_messages);
  const std::string id = f.session_id(1);
  f.guild_message("a");
  f.server->on_closed(1, f.now);
  for (int i = 0; i < 4; ++i) {
    f.guild_message("more");
  }
  f.open(2);
  f.text(2, R"({"op":6,"d":{"token":"QQBot good","session_id":)" + id + R"(,"seq":2}})");
  CHECK(f.texts(2).back() == R"({"op":9,"d":false})");
  CHECK(f.server->counters().resumes_refused == 1);
}

TEST_CASE("a client that reads too slowly is closed with 4009 and resumes without a loss") {
  GatewayServerSettings settings;
  settings.max_client_buffer = 1000;
  Fixture f(settings);
  f.identify(1, k_guild_messages);
  const std::string id = f.session_id(1);
  f.transport.count_bytes = true;
  for (int i = 0; i < 20 && !f.close_code(1); ++i) {
    f.guild_message(fmt::format("m{}", i));
  }
  CHECK(f.close_code(1) == 4009);
  CHECK(f.server->counters().buffer_overflows == 1);
  const std::size_t sent = f.contents(1).size();
  f.guild_message("later");
  CHECK(f.contents(1).size() == sent);  // nothing more after the close
  f.server->on_closed(1, f.now);

  // The new connection drains as it goes: the catch-up stops at half the bound and continues when writable.
  f.open(2);
  f.text(2, R"({"op":6,"d":{"token":"QQBot good","session_id":)" + id + R"(,"seq":1}})");
  int rounds = 0;
  while (f.texts(2).back().find("RESUMED") == std::string::npos && rounds++ < 100) {
    f.transport.peers[2].buffered = 0;
    f.server->on_writable(2);
  }
  CHECK(rounds > 1);
  std::vector<std::string> expected;
  for (std::size_t i = 0; i < sent; ++i) {
    expected.push_back(fmt::format("{}:\"m{}\"", i + 2, i));
  }
  expected.push_back(fmt::format("{}:\"later\"", sent + 2));
  CHECK(f.contents(2) == expected);
}

TEST_CASE(
    "sessions survive a restart: saved, restored, resumed from a position between acknowledged and sent") {
  Fixture f;
  f.identify(1, k_guild_messages, 0, 1);
  const std::string id = f.session_id(1);
  f.guild_message("a");
  f.guild_message("b");
  f.text(1, R"({"op":1,"d":2})");  // acknowledges a
  f.guild_message("c");
  f.guild_message("d");
  const auto saved = f.server->saved_sessions();
  REQUIRE(saved.size() == 1);
  CHECK(saved[0].acked_s == 2);
  CHECK(saved[0].sent_s == 5);
  std::size_t skipped = 9;
  const auto decoded = decode_saved_sessions(encode_saved_sessions(saved), skipped);
  CHECK(skipped == 0);
  f.server->end_all_sessions("relay stopping");
  CHECK(f.texts(1).back() == R"({"op":7,"d":false})");
  CHECK(f.close_code(1) == 4009);

  f.make_server();  // the next process, with the journal-loaded retention
  f.server->restore(decoded, f.now);
  f.guild_message("e");
  f.open(2);
  f.text(2, R"({"op":6,"d":{"token":"QQBot good","session_id":)" + id + R"(,"seq":3}})");
  CHECK(f.contents(2) == std::vector<std::string>{"4:\"c\"", "5:\"d\"", "6:\"e\""});
  CHECK(f.texts(2).back() == R"({"op":0,"s":6,"t":"RESUMED","d":""})");
}

TEST_CASE("shards split the events so that each event goes to exactly one of them") {
  Fixture f;
  f.identify(1, k_guild_messages | k_groups, 0, 2);
  f.identify(2, k_guild_messages | k_groups, 1, 2);
  for (int g = 0; g < 40; ++g) {
    f.guild_message(fmt::format("g{}", g), std::to_string(static_cast<std::uint64_t>(g) << 22));
  }
  const auto first = f.contents(1);
  const auto second = f.contents(2);
  CHECK(first.size() == 20);  // (id >> 22) % 2 alternates
  CHECK(second.size() == 20);
}

TEST_CASE("a connection that stops sending is closed with 4009 after two heartbeat intervals") {
  Fixture f;
  f.identify(1, k_guild_messages);
  f.now += Millis(41'250);
  f.text(1, R"({"op":1,"d":1})");
  f.now += Millis(80'000);
  f.server->on_tick(f.now);
  CHECK_FALSE(f.close_code(1));
  f.now += Millis(3'000);
  f.server->on_tick(f.now);
  CHECK(f.close_code(1) == 4009);
  f.now += Millis(11'000);
  f.server->on_tick(f.now);
  CHECK(f.transport.peers[1].aborted);
}

TEST_CASE("a saved-sessions file with a bad line loses that line only") {
  std::size_t skipped = 0;
  const auto sessions = decode_saved_sessions(
      "{\"session_id\":\"a\",\"client\":\"c\",\"intents\":1,\"shard\":[0,1],\"acked_s\":1,\"acked_relay_"
      "seq\":5,"
      "\"sent_s\":3,\"sent_relay_seq\":9}\nnot json\n{\"session_id\":\"b\"}\n\n",
      skipped);
  REQUIRE(sessions.size() == 1);
  CHECK(sessions[0].session_id == "a");
  CHECK(sessions[0].sent_relay_seq == 9);
  CHECK(skipped == 2);
}

TEST_CASE("a client taken out of the clients file loses its live and detached sessions") {
  Fixture f;
  f.identify(1, k_guild_messages);
  f.identify(2, k_guild_messages, 0, 1, "QQBot other");
  f.identify(3, k_guild_messages);
  const std::string detached = f.session_id(3);
  f.server->on_closed(3, f.now);
  f.server->end_sessions_unless([](std::string_view client) { return client == "beta"; });
  CHECK(f.close_code(1) == 4004);
  CHECK_FALSE(f.close_code(2));
  f.open(4);
  f.text(4, R"({"op":6,"d":{"token":"QQBot good","session_id":)" + detached + R"(,"seq":1}})");
  CHECK(f.texts(4).back() == R"({"op":9,"d":false})");
  CHECK(f.server->saved_sessions().size() == 1);
}

TEST_CASE("a Resume that is refused does not end the session live on another connection") {
  Fixture f;
  f.identify(1, k_guild_messages);
  const std::string id = f.session_id(1);
  f.guild_message("a");
  f.text(1, R"({"op":1,"d":2})");
  f.open(2);
  f.text(2, R"({"op":6,"d":{"token":"QQBot good","session_id":)" + id + R"(,"seq":1}})");
  CHECK(f.close_code(2) == 4007);  // below what it acknowledged
  CHECK_FALSE(f.close_code(1));
  f.guild_message("b");
  CHECK(f.contents(1) == std::vector<std::string>{"2:\"a\"", "3:\"b\""});
  // An honoured Resume takes the session over: the old connection is closed with 4009.
  f.open(3);
  f.text(3, R"({"op":6,"d":{"token":"QQBot good","session_id":)" + id + R"(,"seq":2}})");
  CHECK(f.close_code(1) == 4009);
  CHECK(f.contents(3) == std::vector<std::string>{"3:\"b\""});
  CHECK(f.texts(3).back() == R"({"op":0,"s":3,"t":"RESUMED","d":""})");
  // qq-official-bot's second socket resumes the new session with its old session's seq: it takes the session
  // over too, and its numbering goes on from there.
  f.open(4);
  f.text(4, R"({"op":6,"d":{"token":"QQBot good","session_id":)" + id + R"(,"seq":7}})");
  CHECK(f.close_code(3) == 4009);
  CHECK(f.texts(4).back() == R"({"op":0,"s":7,"t":"RESUMED","d":""})");
  f.guild_message("c");
  CHECK(f.contents(4) == std::vector<std::string>{"8:\"c\""});
}

TEST_CASE("a detached session's position follows what is not for it, so a Resume needs no older retention") {
  Fixture f;
  f.identify(1, k_guild_messages);
  const std::string id = f.session_id(1);
  f.guild_message("a");
  f.server->end_all_sessions("stopping");
  f.server->on_closed(1, f.now);
  f.publish_body(R"({"shard":[0,1],"state":"stopped"})");  // published at the stop, after the close
  const auto saved = f.server->saved_sessions();
  REQUIRE(saved.size() == 1);
  CHECK(saved[0].sent_relay_seq == f.relay_seq);
  // The next process without a journal: its retention holds nothing before now.
  f.retention = publish::Retention(100, 1 << 20);
  f.retention.set_complete_after(f.relay_seq);
  f.make_server();
  f.server->restore(saved, f.now);
  f.guild_message("b");
  f.open(2);
  f.text(2, R"({"op":6,"d":{"token":"QQBot good","session_id":)" + id + R"(,"seq":2}})");
  CHECK(f.contents(2) == std::vector<std::string>{"3:\"b\""});
  CHECK(f.texts(2).back() == R"({"op":0,"s":3,"t":"RESUMED","d":""})");
}

TEST_CASE(
    "a Resume with a seq past what the session sent continues from the client's number, losing nothing") {
  Fixture f;
  f.identify(1, k_guild_messages);
  const std::string id = f.session_id(1);
  f.guild_message("a");  // s 2
  f.server->on_closed(1, f.now);
  f.guild_message("b");  // published while away
  f.open(2);
  f.text(2, R"({"op":6,"d":{"token":"QQBot good","session_id":)" + id + R"(,"seq":9}})");
  CHECK(f.contents(2) == std::vector<std::string>{"10:\"b\""});
  CHECK(f.texts(2).back() == R"({"op":0,"s":10,"t":"RESUMED","d":""})");
  f.guild_message("c");
  CHECK(f.contents(2).back() == "11:\"c\"");
  // Below what it acknowledged is another matter.
  f.text(2, R"({"op":1,"d":11})");
  f.open(3);
  f.text(3, R"({"op":6,"d":{"token":"QQBot good","session_id":)" + id + R"(,"seq":4}})");
  CHECK(f.close_code(3) == 4007);
}

TEST_CASE("a second Identify on a connection starts a new session there, and the first stays resumable") {
  Fixture f;
  f.identify(1, k_guild_messages);
  const std::string first = f.session_id(1);
  f.guild_message("a");
  f.text(1, R"({"op":2,"d":{"token":"QQBot good","intents":1073741824}})");
  CHECK_FALSE(f.close_code(1));
  CHECK(member(f.texts(1).back(), "/t") == "\"READY\"");
  CHECK(member(f.texts(1).back(), "/d/session_id") != first);
  f.guild_message("b");
  CHECK(f.contents(1).back() == "2:\"b\"");  // the new session's own numbering
  CHECK(f.server->detached_sessions() == 1);
  f.open(2);
  f.text(2, R"({"op":6,"d":{"token":"QQBot good","session_id":)" + first + R"(,"seq":2}})");
  CHECK(f.contents(2) == std::vector<std::string>{"3:\"b\""});
}

TEST_CASE("a connection that never identifies is closed after five minutes, not two heartbeat intervals") {
  Fixture f;
  f.open(1);
  f.now += Millis(100'000);
  f.server->on_tick(f.now);
  CHECK_FALSE(f.close_code(1));
  f.now += Millis(201'000);
  f.server->on_tick(f.now);
  CHECK(f.close_code(1) == 4009);
}

TEST_CASE("connections no client's token vouches for are logged at most once per 10 s, then with a count") {
  auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(1000);
  spdlog::default_logger()->sinks().push_back(sink);
  const auto level = spdlog::default_logger()->level();
  spdlog::default_logger()->set_level(spdlog::level::info);
  Fixture f;
  // Anyone can open these: 300 connections with a token that is no client's, 300 that send no payload.
  for (ConnectionId id = 1; id <= 600; ++id) {
    f.open(id);
    f.text(id, id % 2 ? R"({"op":2,"d":{"token":"QQBot bad","intents":1}})" : "not json");
    f.server->on_closed(id, f.now);
  }
  f.now += Millis(10'001);
  f.open(1000);
  f.text(1000, R"({"op":6,"d":{"token":"QQBot bad","session_id":"x","seq":1}})");
  // A client whose token was accepted is always named.
  f.identify(1001, k_guild_messages, 3, 2);
  const std::vector<std::string> lines = sink->last_formatted();
  spdlog::default_logger()->sinks().pop_back();
  spdlog::default_logger()->set_level(level);
  std::vector<std::string> refusals;
  for (const auto& line : lines) {
    if (line.find("unidentified client") != std::string::npos ||
        line.find("no client's") != std::string::npos) {
      refusals.push_back(line);
    }
  }
  REQUIRE(refusals.size() == 4);
  CHECK(refusals[2].find(
            "a Resume with a token that is no client's; closing with 4004 (299 more in the last 10 s "
            "not logged)") != std::string::npos);
  CHECK(refusals[3].find("with 4004 (authentication failed) (599 more in the last 10 s not logged)") !=
        std::string::npos);
  CHECK(std::count_if(lines.begin(), lines.end(), [](const std::string& line) {
          return line.find("closing the connection of client alpha") != std::string::npos;
        }) == 1);
  CHECK(f.server->counters().closes.at(4004) == 301);
  CHECK(f.server->counters().closes.at(4002) == 300);
}
