#include <catch2/catch.hpp>

#include <string>

#include "publish/event_counts.hpp"

using relay::publish::EventCounts;

TEST_CASE("event counts stay right when types and sources alternate and repeat") {
  EventCounts counts;
  // The views die after each call, as a frame's type does: the counts must not keep them.
  const auto add = [&counts](std::string source, std::string type) { counts.add(source, type); };
  add("gateway", "AT_MESSAGE_CREATE");
  add("gateway", "AT_MESSAGE_CREATE");
  add("webhook", "AT_MESSAGE_CREATE");
  add("gateway", "C2C_MESSAGE_CREATE");
  add("gateway", "AT_MESSAGE_CREATE");
  add("webhook", "AT_MESSAGE_CREATE");
  add("webhook", "AT_MESSAGE_CREATE");
  add("gateway", "AT_MESSAGE_CREATE_");
  add("gateway", "AT_MESSAGE_CREAT");
  CHECK(counts.count("gateway", "AT_MESSAGE_CREATE") == 3);
  CHECK(counts.count("webhook", "AT_MESSAGE_CREATE") == 3);
  CHECK(counts.count("gateway", "C2C_MESSAGE_CREATE") == 1);
  CHECK(counts.count("gateway", "AT_MESSAGE_CREATE_") == 1);
  CHECK(counts.count("gateway", "AT_MESSAGE_CREAT") == 1);
  CHECK(counts.count("webhook", "C2C_MESSAGE_CREATE") == 0);
  CHECK(counts.by_source().size() == 2);
  CHECK(counts.by_source().at("gateway").size() == 4);
}
