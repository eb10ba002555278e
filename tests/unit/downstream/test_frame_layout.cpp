#include <string>

#include <catch2/catch.hpp>

#include "downstream/event_scope.hpp"
#include "downstream/frame_layout.hpp"
#include "protocol/intents.hpp"

using namespace relay::downstream;

TEST_CASE("the top-level members of a dispatch are found without parsing what is nested") {
  const std::string frame =
      R"({"op": 0, "s" :42,"t":"AT_MESSAGE_CREATE","id":"AT_MESSAGE_CREATE:1","d":{"s":7,"t":"x","a":["}",{"]":1}]}})";
  const FrameLayout layout = scan_frame(frame);
  CHECK(layout.object);
  CHECK(layout.op == "0");
  CHECK(layout.s == "42");
  CHECK(layout.t == "AT_MESSAGE_CREATE");
  CHECK(layout.id == "AT_MESSAGE_CREATE:1");
  CHECK(layout.d == R"({"s":7,"t":"x","a":["}",{"]":1}]})");
  CHECK(is_dispatch(layout));
}

TEST_CASE("what is not an object has no layout") {
  for (const std::string text : {"", "[]", "\"x\"", "{", R"({"op":0)", R"({"op":})", R"({"op" 0})",
                                 R"({"d":{"a":1})", R"({"t":"unterminated})", "{,}"}) {
    INFO(text);
    CHECK_FALSE(scan_frame(text).object);
    CHECK_FALSE(is_dispatch(scan_frame(text)));
  }
  CHECK(scan_frame("{}").object);
  CHECK(scan_frame(" { } ").object);
}

TEST_CASE("the first of a repeated key counts, and an escaped key is not its plain name") {
  const FrameLayout layout = scan_frame(R"({"op":0,"\u0073":5,"t":"A","t":"B","s":6})");
  CHECK(layout.t == "A");
  CHECK(layout.s == "6");
}

TEST_CASE("a first t or id that is empty or not a string still counts: a later one is not taken") {
  // Found by fuzz_frame_layout: the first member was kept only when it left a non-empty view.
  const FrameLayout empty = scan_frame(R"({"op":0,"t":"","id":"","t":"AT_MESSAGE_CREATE","id":"X","d":{}})");
  CHECK(empty.object);
  CHECK(empty.t.empty());
  CHECK(empty.id.empty());
  CHECK_FALSE(is_dispatch(empty));
  const FrameLayout number =
      scan_frame(R"({"op":0,"t":1,"id":null,"t":"AT_MESSAGE_CREATE","id":"X","d":{}})");
  CHECK(number.t.empty());
  CHECK(number.id.empty());
  CHECK_FALSE(is_dispatch(number));
}

TEST_CASE("s is replaced in place and every other byte kept") {
  const std::string frame = R"({"op":0,"s":3,"t":"GROUP_AT_MESSAGE_CREATE","d":{"s":3,"content":"你好"}})";
  std::string out = "prefix:";
  append_with_seq(out, frame, scan_frame(frame), 1234567);
  CHECK(out == R"(prefix:{"op":0,"s":1234567,"t":"GROUP_AT_MESSAGE_CREATE","d":{"s":3,"content":"你好"}})");
}

TEST_CASE("a frame without s (a webhook's) gets one after its opening brace") {
  const std::string frame = R"(  {"op":0,"id":"X:1","d":{},"t":"C2C_MESSAGE_CREATE"})";
  std::string out;
  append_with_seq(out, frame, scan_frame(frame), 9);
  CHECK(out == R"(  {"s":9,"op":0,"id":"X:1","d":{},"t":"C2C_MESSAGE_CREATE"})");
  std::string empty;
  append_with_seq(empty, "{ }", scan_frame("{ }"), 1);
  CHECK(empty == R"({"s":1 })");
}

TEST_CASE(
    "an event reaches a session when its intent was asked for and its key falls on the session's shard") {
  const auto guild_messages = *relay::protocol::intent_bit("PUBLIC_GUILD_MESSAGES");
  const auto groups = *relay::protocol::intent_bit("GROUP_AND_C2C_EVENT");
  const std::string at_message =
      R"({"op":0,"s":1,"t":"AT_MESSAGE_CREATE","d":{"guild_id":"18700000000001","content":"x"}})";
  const FrameLayout layout = scan_frame(at_message);
  EventFacts facts(layout);
  CHECK(facts.deliverable());
  CHECK(facts.in(SessionScope{guild_messages, 0, 1}));
  CHECK_FALSE(facts.in(SessionScope{groups, 0, 1}));
  // (18700000000001 >> 22) % 4 == 4458503 % 4 == 3
  CHECK(facts.in(SessionScope{guild_messages, 3, 4}));
  CHECK_FALSE(facts.in(SessionScope{guild_messages, 1, 4}));

  const FrameLayout unknown = scan_frame(R"({"op":0,"t":"SOMETHING_NEW","d":{}})");
  EventFacts unknown_facts(unknown);
  CHECK(unknown_facts.in(SessionScope{groups, 0, 1}));

  for (const std::string text : {R"({"op":0,"s":1,"t":"READY","d":{}})", R"({"op":0,"t":"RESUMED","d":""})",
                                 R"({"op":11})", R"({"shard":[0,1],"state":"ready"})"}) {
    const FrameLayout other = scan_frame(text);
    EventFacts other_facts(other);
    CHECK_FALSE(other_facts.deliverable());
    CHECK_FALSE(other_facts.in(SessionScope{0xffffffffu, 0, 1}));
  }
}
