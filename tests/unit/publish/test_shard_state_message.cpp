#include <string>

#include <simdjson.h>
#include <catch2/catch.hpp>

#include "publish/shard_state_message.hpp"

using relay::publish::encode_shard_state;

TEST_CASE("a relay.shard body carries the shard, state, session, close code and reason as JSON") {
  std::string body;
  encode_shard_state(body, {2, 4, "disconnected", "sess-1", 4009, "session timed out", true});
  REQUIRE(body == R"({"shard":[2,4],"state":"disconnected","session_id":"sess-1","close_code":4009,)"
                  R"("reason":"session timed out","will_resume":true})");
  encode_shard_state(body, {0, 1, "ready", "", 0, "", false});
  REQUIRE(
      body ==
      R"({"shard":[0,1],"state":"ready","session_id":null,"close_code":0,"reason":"","will_resume":false})");
}

TEST_CASE("a close reason that is not UTF-8 or holds quotes still makes valid JSON") {
  std::string body;
  const std::string reason = std::string("bad \xff\xfe bytes \"quoted\" \\ ") + '\x01';
  encode_shard_state(body, {0, 1, "disconnected", "s", 4000, reason, true});
  simdjson::dom::parser parser;
  simdjson::dom::element parsed;
  REQUIRE(parser.parse(body).get(parsed) == simdjson::SUCCESS);
  std::string_view text;
  REQUIRE(parsed["reason"].get_string().get(text) == simdjson::SUCCESS);
  REQUIRE(text.find("\"quoted\"") != std::string_view::npos);
}
