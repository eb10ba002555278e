#include "cluster/reply_shapes.hpp"

#include <catch2/catch.hpp>

using relay::cluster::claim_from;
using relay::cluster::is_resumable_session_id;
using relay::cluster::is_stale_token;
using relay::cluster::members_from;
using relay::cluster::position_from;
using relay::cluster::position_problem;
using relay::cluster::RedisReply;
using relay::cluster::renewal_from;
using relay::cluster::RenewResult;
using relay::cluster::to_uint;

namespace {

RedisReply text(std::string value, RedisReply::Kind kind = RedisReply::Kind::string) {
  RedisReply reply;
  reply.kind = kind;
  reply.text = std::move(value);
  return reply;
}

RedisReply integer(std::int64_t value) {
  RedisReply reply;
  reply.kind = RedisReply::Kind::integer;
  reply.integer = value;
  return reply;
}

RedisReply array(std::vector<RedisReply> elements) {
  RedisReply reply;
  reply.kind = RedisReply::Kind::array;
  reply.elements = std::move(elements);
  return reply;
}

RedisReply nil() {
  return RedisReply{};
}

// load_position's reply as HMGET gives it: every field a bulk string.
RedisReply position(std::string token, std::string session_id, std::string seq, std::string relay_seq) {
  return array({text(std::move(token)), text(std::move(session_id)), text(std::move(seq)),
                text(std::move(relay_seq))});
}

}  // namespace

TEST_CASE("to_uint takes non-negative integers and whole decimal strings, nothing else") {
  CHECK(to_uint(integer(0)) == 0u);
  CHECK(to_uint(integer(42)) == 42u);
  CHECK(to_uint(text("42")) == 42u);
  CHECK(to_uint(text("18446744073709551615")) == UINT64_MAX);
  CHECK_FALSE(to_uint(integer(-1)));
  CHECK_FALSE(to_uint(text("18446744073709551616")));  // one past 2^64 - 1
  CHECK_FALSE(to_uint(text("")));
  CHECK_FALSE(to_uint(text("12abc")));
  CHECK_FALSE(to_uint(text("-3")));
  CHECK_FALSE(to_uint(text("+3")));
  CHECK_FALSE(to_uint(text(" 3")));
  CHECK_FALSE(to_uint(text("3", RedisReply::Kind::error)));
  CHECK_FALSE(to_uint(nil()));
  CHECK_FALSE(to_uint(array({integer(1)})));
}

TEST_CASE("a stored position is read whole") {
  const auto stored = position_from(position("7", "a7e3c0de-1b2f-4c55-9e10-3f6b2d0e9a11", "1234", "99"));
  REQUIRE(stored);
  CHECK(stored->token == 7);
  CHECK(stored->session_id == "a7e3c0de-1b2f-4c55-9e10-3f6b2d0e9a11");
  CHECK(stored->seq == 1234);
  CHECK(stored->relay_seq == 99);
  CHECK(position_problem(position("7", "s", "1", "2")).empty());
}

TEST_CASE("no stored position is an empty array, and no problem") {
  CHECK_FALSE(position_from(array({})));
  CHECK(position_problem(array({})).empty());
}

TEST_CASE("a position that is not exactly four usable fields is refused with a reason") {
  const std::vector<RedisReply> refused{
      nil(),
      text("ERR", RedisReply::Kind::error),
      array({text("7"), text("s"), text("1")}),                        // too short
      array({text("7"), text("s"), text("1"), text("2"), text("3")}),  // too long
      array({text("7"), array({text("s")}), text("1"), text("2")}),    // session_id nested
      array({nil(), text("s"), text("1"), text("2")}),                 // a field lost (HMGET nil)
      array({text("7"), nil(), text("1"), text("2")}),
      array({text("7"), text("s"), nil(), text("2")}),
      array({text("7"), text("s"), text("1"), nil()}),
      position("seven", "s", "1", "2"),
      position("7", "s", "1x", "2"),
      position("7", "s", "-1", "2"),
      position("7", "s", "1", "2.5"),
      array({integer(-7), text("s"), text("1"), text("2")}),
      position("7", "", "1", "2"),
      position("7", "bad\xff utf-8", "1", "2"),
      position("7", "line\nbreak", "1", "2"),
      position("7", std::string("nul\0byte", 8), "1", "2"),
      position("7", std::string(257, 'a'), "1", "2"),
  };
  for (const RedisReply& reply : refused) {
    CAPTURE(reply.elements.size());
    CHECK_FALSE(position_from(reply));
    CHECK_FALSE(position_problem(reply).empty());
  }
}

TEST_CASE("a session id with JSON-special characters stays usable: the RESUME frame escapes it") {
  CHECK(is_resumable_session_id(R"(quo"te\back/slash)"));
  CHECK(is_resumable_session_id("\xE4\xBC\x9A\xE8\xAF\x9D"));  // 会话
  CHECK(is_resumable_session_id(std::string(256, 'a')));
  CHECK_FALSE(is_resumable_session_id(std::string(257, 'a')));
  CHECK_FALSE(is_resumable_session_id("\xC0\xAF"));  // overlong '/'
  CHECK_FALSE(is_resumable_session_id("del\x7f"));
  CHECK_FALSE(is_resumable_session_id("tab\t"));
}

TEST_CASE("a claim reply is a token and a node name") {
  const auto claim = claim_from(array({integer(3), text("relay-a")}));
  REQUIRE(claim);
  CHECK(claim->token == 3);
  CHECK(claim->owner == "relay-a");
  CHECK(claim_from(array({text("3"), text("relay-a")}))->token == 3);
  CHECK_FALSE(claim_from(array({integer(-3), text("relay-a")})));
  CHECK_FALSE(claim_from(array({text("x"), text("relay-a")})));
  CHECK_FALSE(claim_from(array({integer(3), text("")})));
  CHECK_FALSE(claim_from(array({integer(3), nil()})));
  CHECK_FALSE(claim_from(array({integer(3), integer(4)})));
  CHECK_FALSE(claim_from(array({integer(3), array({text("relay-a")})})));
  CHECK_FALSE(claim_from(array({integer(3)})));
  CHECK_FALSE(claim_from(array({integer(3), text("relay-a"), text("more")})));
  CHECK_FALSE(claim_from(text("NOSCRIPT No matching script", RedisReply::Kind::error)));
}

TEST_CASE("the live nodes are the non-empty names, sorted, each once") {
  const auto nodes = members_from(array({text("relay-c"), text("relay-a"), text(""), nil(), integer(5),
                                         array({text("relay-x")}), text("relay-b"), text("relay-a")}));
  REQUIRE(nodes);
  CHECK(*nodes == std::vector<std::string>{"relay-a", "relay-b", "relay-c"});
  CHECK(members_from(array({}))->empty());
  CHECK_FALSE(members_from(text("NOSCRIPT No matching script", RedisReply::Kind::error)));
  CHECK_FALSE(members_from(nil()));
}

TEST_CASE("renew answers 1 renewed, 0 lost, anything else failed") {
  CHECK(renewal_from(integer(1)) == RenewResult::renewed);
  CHECK(renewal_from(integer(0)) == RenewResult::lost);
  CHECK(renewal_from(integer(2)) == RenewResult::failed);
  CHECK(renewal_from(integer(-1)) == RenewResult::failed);
  CHECK(renewal_from(text("1")) == RenewResult::failed);
  CHECK(renewal_from(text("ERR", RedisReply::Kind::error)) == RenewResult::failed);
}

TEST_CASE("only an error reply starting with STALE_TOKEN is a refused position") {
  CHECK(is_stale_token(text("STALE_TOKEN 3 < 4", RedisReply::Kind::error)));
  CHECK_FALSE(is_stale_token(text("STALE_TOKEN 3 < 4")));
  CHECK_FALSE(is_stale_token(text("NOSCRIPT No matching script", RedisReply::Kind::error)));
  CHECK_FALSE(is_stale_token(integer(1)));
}
