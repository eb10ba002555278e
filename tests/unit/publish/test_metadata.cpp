#include <catch2/catch.hpp>

#include <cstdint>

#include <simdjson.h>

#include "publish/metadata.hpp"

using namespace relay::publish;

TEST_CASE("gateway metadata carries shard, session, seq, event id and relay_seq") {
  std::string out;
  MessageInfo info;
  info.shard = ShardPosition{1, 4};
  info.session_id = "sess-\"q\"";
  info.seq = 42;
  info.event_id = "AT_MESSAGE_CREATE:abc";
  info.received_at_us = 1700000000123456;
  encode_metadata(out, "102000000", "relay-a", info, 7);
  REQUIRE(
      out ==
      R"({"v":2,"app_id":"102000000","source":"gateway","shard":[1,4],"session_id":"sess-\"q\"",)"
      R"("seq":42,"event_id":"AT_MESSAGE_CREATE:abc","relay_seq":7,"received_at_us":1700000000123456,"node":"relay-a"})");
  simdjson::dom::parser parser;
  REQUIRE(parser.parse(out).error() == simdjson::SUCCESS);
}

TEST_CASE("webhook metadata has null shard, session and seq") {
  std::string out;
  MessageInfo info;
  info.source = Source::webhook;
  encode_metadata(out, "1", "", info, 1);
  REQUIRE(out == R"({"v":2,"app_id":"1","source":"webhook","shard":null,"session_id":null,"seq":null,)"
                 R"("event_id":null,"relay_seq":1,"received_at_us":0,"node":""})");
}

TEST_CASE("one metadata encoder writes what encode_metadata writes, message after message") {
  const MetadataEncoder encoder("app \"1\"", "node\\a");
  std::string out = "left over from the message before";
  for (std::uint64_t relay_seq = 1; relay_seq <= 3; ++relay_seq) {
    MessageInfo info;
    info.source = relay_seq == 2 ? Source::webhook : Source::gateway;
    info.shard = relay_seq == 2 ? std::nullopt : std::optional(ShardPosition{0, 2});
    info.event_id = relay_seq == 3 ? "" : "C2C_MESSAGE_CREATE:x";
    encoder.encode(out, info, relay_seq);
    std::string expected;
    encode_metadata(expected, "app \"1\"", "node\\a", info, relay_seq);
    REQUIRE(out == expected);
    REQUIRE(out.starts_with(R"({"v":2,"app_id":"app \"1\"","source":")"));
    REQUIRE(out.ends_with(R"(,"node":"node\\a"})"));
  }
}

TEST_CASE("metadata with every integer at its widest and strings that need escaping") {
  MessageInfo info;
  info.shard = ShardPosition{4294967295u, 4294967295u};
  info.seq = 18446744073709551615ull;
  info.received_at_us = INT64_MIN;
  const std::string session(300, '\x01');
  info.session_id = session;
  info.event_id = "id\"\xff";
  std::string out;
  MetadataEncoder("app", "node").encode(out, info, 18446744073709551615ull);
  std::string escaped_session;
  for (int i = 0; i < 300; ++i) {
    escaped_session += "\\u0001";
  }
  REQUIRE(out ==
          R"({"v":2,"app_id":"app","source":"gateway","shard":[4294967295,4294967295],"session_id":")" +
              escaped_session +
              R"(","seq":18446744073709551615,"event_id":"id\")"
              "\xEF\xBF\xBD"
              R"(","relay_seq":18446744073709551615,"received_at_us":-9223372036854775808,"node":"node"})");
}
