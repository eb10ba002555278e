#include <filesystem>
#include <string>

#include <simdjson.h>
#include <catch2/catch.hpp>

#include "../support/temp_dir.hpp"
#include "protocol/event_routing.hpp"

using namespace relay::protocol;
namespace fs = std::filesystem;

namespace {

// The key of a fixture (tests/data/fixtures/<name>.json, a whole Dispatch as the platform documents it).
RoutingKey key_of_fixture(const std::string& name) {
  const std::string text =
      relay::test::file_contents(fs::path(RELAY_TEST_DATA_DIR) / "fixtures" / (name + ".json"));
  REQUIRE_FALSE(text.empty());
  simdjson::dom::parser parser;
  const simdjson::dom::element frame = parser.parse(text);
  return routing_key(std::string(frame["t"].get_string().value()), simdjson::minify(frame["d"]));
}

}  // namespace

TEST_CASE("guild events are keyed by their guild, group and user events by their openid") {
  CHECK(std::get<GuildKey>(key_of_fixture("at_message_create")).guild_id == 18700000000001u);
  CHECK(std::get<GuildKey>(key_of_fixture("message_reaction_add")).guild_id == 11110011112222u);
  CHECK(std::get<GuildKey>(key_of_fixture("channel_create")).guild_id != 0);
  CHECK(std::get<GuildKey>(key_of_fixture("guild_create")).guild_id == 200000000u);  // d is the guild
  CHECK(std::get<OpenidKey>(key_of_fixture("group_at_message_create")).openid ==
        "C9F778FE6ADF9D1D1DBE395BF744A33A");
  CHECK(std::get<OpenidKey>(key_of_fixture("group_add_robot")).openid == "C9F778FE6ADF9D1D1DBE395BF744A33A");
  CHECK(std::get<OpenidKey>(key_of_fixture("friend_add")).openid == "E4F4AEA33253A2797FB897C50B81D7ED");
  CHECK(std::holds_alternative<OpenidKey>(key_of_fixture("c2c_message_create")));
  CHECK(std::holds_alternative<OpenidKey>(key_of_fixture("c2c_msg_receive")));
}

TEST_CASE("an event without a key, or a d that is not an object, has none") {
  CHECK(std::holds_alternative<std::monostate>(routing_key("INTERACTION_CREATE", R"({"id":"x","data":{}})")));
  CHECK(std::holds_alternative<std::monostate>(routing_key("X", "[1]")));
  CHECK(std::holds_alternative<std::monostate>(routing_key("X", "not json")));
  CHECK(std::holds_alternative<std::monostate>(routing_key("X", R"({"guild_id":"12a"})")));
  // d.id is a guild only for the guild events themselves.
  CHECK(std::holds_alternative<std::monostate>(routing_key("MESSAGE_DELETE", R"({"id":"5"})")));
}

TEST_CASE("a dispatch without d has no key, and its empty view is not handed to the parser") {
  // scan_frame leaves d as a default view (a null pointer) when the frame has none; memcpy from a null
  // pointer is undefined even for 0 bytes (UBSan reports it; found by fuzz_frame_layout).
  CHECK(std::holds_alternative<std::monostate>(routing_key("AT_MESSAGE_CREATE", std::string_view())));
}

TEST_CASE(
    "a guild goes to (guild_id >> 22) % count, as the platform shards it, an openid always to one shard") {
  const GuildKey guild{(7ull << 22) | 12345};
  CHECK(shard_of(guild, 4) == 3);
  CHECK(shard_of(guild, 1) == 0);
  CHECK(shard_of(RoutingKey{}, 8) == 0);
  const OpenidKey user{"E4F4AEA33253A2797FB897C50B81D7ED"};
  const unsigned first = shard_of(user, 16);
  CHECK(first < 16);
  CHECK(shard_of(OpenidKey{"E4F4AEA33253A2797FB897C50B81D7ED"}, 16) == first);
  // Spread: 1000 openids over 4 shards, each shard gets a fair part.
  unsigned counts[4] = {};
  for (int i = 0; i < 1000; ++i) {
    ++counts[shard_of(OpenidKey{"USER" + std::to_string(i)}, 4)];
  }
  for (const unsigned count : counts) {
    CHECK(count > 150);
  }
}
