#include <catch2/catch.hpp>

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
