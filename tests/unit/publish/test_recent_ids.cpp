#include <string>
#include <unordered_set>

#include <catch2/catch.hpp>

#include "publish/recent_ids.hpp"

using relay::publish::RecentIds;

TEST_CASE("an id seen recently is a repeat") {
  RecentIds ids(4);
  REQUIRE(ids.insert("GROUP_AT_MESSAGE_CREATE:abc"));
  REQUIRE_FALSE(ids.insert("GROUP_AT_MESSAGE_CREATE:abc"));
  REQUIRE(ids.insert("GROUP_AT_MESSAGE_CREATE:abd"));
  REQUIRE(ids.size() == 2);
}

TEST_CASE("the oldest ids are forgotten first, and memory stays bounded") {
  RecentIds ids(3);
  REQUIRE(ids.insert("a"));
  REQUIRE(ids.insert("b"));
  REQUIRE(ids.insert("c"));
  REQUIRE(ids.insert("d"));  // forgets "a"
  REQUIRE(ids.size() == 3);
  REQUIRE_FALSE(ids.contains("a"));
  REQUIRE(ids.contains("b"));
  REQUIRE(ids.contains("d"));
  REQUIRE(ids.insert("a"));  // new again, forgets "b"
  REQUIRE_FALSE(ids.contains("b"));
  REQUIRE(ids.contains("c"));
}

TEST_CASE("a long stream keeps exactly the last `capacity` ids") {
  // Many evictions with a crowded table exercise the backward-shift deletion.
  constexpr std::size_t capacity = 1000;
  RecentIds ids(capacity);
  for (int i = 0; i < 200'000; ++i) {
    REQUIRE(ids.insert("event-" + std::to_string(i)));
  }
  REQUIRE(ids.size() == capacity);
  for (int i = 200'000 - static_cast<int>(capacity); i < 200'000; ++i) {
    REQUIRE(ids.contains("event-" + std::to_string(i)));
  }
  for (int i = 0; i < 200'000 - static_cast<int>(capacity); i += 97) {
    REQUIRE_FALSE(ids.contains("event-" + std::to_string(i)));
  }
}

TEST_CASE("capacity 0 turns de-duplication off") {
  RecentIds ids(0);
  REQUIRE(ids.insert("x"));
  REQUIRE(ids.insert("x"));
  REQUIRE_FALSE(ids.contains("x"));
}
