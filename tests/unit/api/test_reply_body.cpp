#include <simdjson.h>
#include <catch2/catch.hpp>

#include "api/reply_body.hpp"

using relay::api::read_reply_fields;
using relay::api::with_msg_seq;

namespace {

std::uint64_t msg_seq_of(const std::string& body) {
  simdjson::dom::parser parser;
  return parser.parse(body)["msg_seq"].get_uint64().value();
}

}  // namespace

TEST_CASE("the reply fields are read from the top level only") {
  auto fields = read_reply_fields(R"({"content":"hi","msg_type":0,"msg_id":"M1","x":{"msg_seq":3}})");
  REQUIRE(fields);
  CHECK(fields->reply_to == "M1");
  CHECK_FALSE(fields->has_msg_seq);

  fields = read_reply_fields(R"({"event_id":"E1","msg_seq":2})");
  REQUIRE(fields);
  CHECK(fields->reply_to == "E1");
  CHECK(fields->has_msg_seq);
  CHECK(fields->msg_seq == 2u);

  fields = read_reply_fields(R"({"event_id":"E1","msg_id":"M1"})");
  CHECK(fields->reply_to == "M1");  // msg_id first, wherever it stands
}

TEST_CASE("null members count as absent, as botpy sends them") {
  const auto fields = read_reply_fields(R"({"msg_id":"M","event_id":null,"msg_seq":null,"embed":null})");
  REQUIRE(fields);
  CHECK(fields->reply_to == "M");
  CHECK_FALSE(fields->has_msg_seq);
}

TEST_CASE("a body that is not one JSON object has no reply fields") {
  CHECK_FALSE(read_reply_fields("[1,2]"));
  CHECK_FALSE(read_reply_fields(R"({"msg_id":"M"} trailing)"));
  CHECK_FALSE(read_reply_fields(R"({"msg_id":"M")"));
  CHECK_FALSE(read_reply_fields(""));
  CHECK(read_reply_fields("{}")->reply_to.empty());
}

TEST_CASE("msg_seq is added as a member, or fills in a null, and the body stays valid JSON") {
  const std::string added = with_msg_seq(R"({"content":"hi","msg_id":"M1"})", 3);
  CHECK(added == R"({"msg_seq":3,"content":"hi","msg_id":"M1"})");
  CHECK(msg_seq_of(added) == 3);
  CHECK(with_msg_seq("  { }", 1) == R"(  {"msg_seq":1 })");
  CHECK(msg_seq_of(with_msg_seq("{}", 7)) == 7);
  const std::string filled = with_msg_seq(R"({"msg_id":"M","msg_seq": null ,"a":[null]})", 12);
  CHECK(filled == R"({"msg_id":"M","msg_seq": 12 ,"a":[null]})");
}
