#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include <simdjson.h>
#include <catch2/catch.hpp>

#include "../support/temp_dir.hpp"
#include "publish/journal.hpp"
#include "publish/publish_stage.hpp"
#include "publish/retention.hpp"
#include "staged_publisher.hpp"

using namespace relay::publish;
using relay::test::MemoryStore;
namespace fs = std::filesystem;

namespace {

// An outlet that keeps a copy of everything it is handed.
struct RecordingOutlet final : Outlet {
  struct Seen {
    std::uint64_t relay_seq;
    std::string type, topic, body, metadata;
    Source source;
  };
  void deliver(const OutgoingMessage& message) override {
    REQUIRE(message.info != nullptr);
    seen.push_back({message.relay_seq, std::string(message.type), std::string(message.topic),
                    std::string(message.body), std::string(message.metadata), message.info->source});
  }
  void flush() override { ++flushes; }
  std::vector<Seen> seen;
  int flushes = 0;
};

MessageInfo from(Source source, std::string_view event_id = {}) {
  MessageInfo info;
  info.source = source;
  info.event_id = event_id;
  return info;
}

std::uint64_t relay_seq_in(const std::string& metadata) {
  simdjson::dom::parser parser;
  return parser.parse(metadata)["relay_seq"].get_uint64().value();
}

}  // namespace

TEST_CASE("the stage numbers messages from where the last run stopped and hands each to every outlet") {
  MemoryStore store;
  PublishStage stage({"102", "qq."}, store);
  RecordingOutlet first, second;
  stage.add_outlet(first);
  stage.add_outlet(second);
  stage.resume_relay_seq_after(41);
  stage.reserve_ahead();

  REQUIRE(stage.publish("AT_MESSAGE_CREATE", R"({"op":0})", from(Source::gateway, "e1")) == 42u);
  REQUIRE(stage.publish("GROUP_AT_MESSAGE_CREATE", R"({"op":0,"x":1})", from(Source::webhook, "e2")) == 43u);
  REQUIRE(stage.publish("relay.shard", R"({"state":"ready"})", from(Source::relay)) == 44u);

  for (const auto* outlet : {&first, &second}) {
    REQUIRE(outlet->seen.size() == 3);
    REQUIRE(outlet->seen[0].relay_seq == 42);
    REQUIRE(outlet->seen[0].type == "AT_MESSAGE_CREATE");
    REQUIRE(outlet->seen[0].topic == "qq.AT_MESSAGE_CREATE");
    REQUIRE(outlet->seen[0].body == R"({"op":0})");
    REQUIRE(relay_seq_in(outlet->seen[0].metadata) == 42);
    REQUIRE(outlet->seen[1].source == Source::webhook);
    REQUIRE(relay_seq_in(outlet->seen[2].metadata) == 44);
  }
  REQUIRE(stage.last_relay_seq() == 44);
  REQUIRE(stage.counters().published == 3);
  REQUIRE(store.changes == 3);  // every publish moves the state file's relay_seq

  REQUIRE(first.flushes == 0);
  stage.flush();
  REQUIRE(first.flushes == 1);
  REQUIRE(second.flushes == 1);
}

TEST_CASE("an event id published recently is dropped, whichever source repeats it") {
  MemoryStore store;
  PublishStage stage({"102", ""}, store);
  RecordingOutlet outlet;
  stage.add_outlet(outlet);
  stage.reserve_ahead();

  REQUIRE(stage.publish("C2C_MESSAGE_CREATE", "{}", from(Source::gateway, "id-1")) == 1u);
  REQUIRE_FALSE(stage.publish("C2C_MESSAGE_CREATE", "{}", from(Source::webhook, "id-1")));
  REQUIRE_FALSE(stage.publish("C2C_MESSAGE_CREATE", "{}", from(Source::gateway, "id-1")));
  // No id, no de-duplication: the relay's own messages and events without an id always go out.
  REQUIRE(stage.publish("relay.shard", "{}", from(Source::relay)) == 2u);
  REQUIRE(stage.publish("relay.shard", "{}", from(Source::relay)) == 3u);
  REQUIRE(stage.publish("C2C_MESSAGE_CREATE", "{}", from(Source::gateway, "id-2")) == 4u);

  REQUIRE(outlet.seen.size() == 4);
  REQUIRE(stage.counters().repeated_ids == 2);
  REQUIRE(stage.counters().published == 4);
}

TEST_CASE("the de-duplication window forgets the oldest ids first") {
  MemoryStore store;
  StageSettings settings{"102", ""};
  settings.dedupe_window = 4;
  PublishStage stage(settings, store);
  stage.reserve_ahead();
  for (int i = 0; i < 5; ++i) {
    REQUIRE(stage.publish("T", "{}", from(Source::gateway, "id-" + std::to_string(i))));
  }
  REQUIRE(stage.publish("T", "{}", from(Source::gateway, "id-0")));  // evicted: published again
  REQUIRE_FALSE(stage.publish("T", "{}", from(Source::gateway, "id-4")));
}

TEST_CASE("events are counted by source and type, the relay's control messages are not events") {
  MemoryStore store;
  PublishStage stage({"102", ""}, store);
  stage.reserve_ahead();
  stage.publish("AT_MESSAGE_CREATE", "{}", from(Source::gateway));
  stage.publish("AT_MESSAGE_CREATE", "{}", from(Source::gateway));
  stage.publish("AT_MESSAGE_CREATE", "{}", from(Source::webhook));
  stage.publish("relay.shard", "{}", from(Source::relay));
  REQUIRE(stage.events().count("gateway", "AT_MESSAGE_CREATE") == 2);
  REQUIRE(stage.events().count("webhook", "AT_MESSAGE_CREATE") == 1);
  REQUIRE(stage.events().count("relay", "relay.shard") == 0);
  REQUIRE(stage.events().by_source().size() == 2);
}

TEST_CASE("a new topic prefix applies from the next message") {
  MemoryStore store;
  PublishStage stage({"102", "a."}, store);
  RecordingOutlet outlet;
  stage.add_outlet(outlet);
  stage.reserve_ahead();
  stage.publish("T", "{}", from(Source::gateway));
  stage.set_topic_prefix("b.");
  stage.publish("T", "{}", from(Source::gateway));
  REQUIRE(outlet.seen.at(0).topic == "a.T");
  REQUIRE(outlet.seen.at(1).topic == "b.T");
}

TEST_CASE("every published message is retained and journaled with the frames the outlets got") {
  relay::test::TempDir temp;
  const fs::path& directory = temp.path;
  {
    MemoryStore store;
    PublishStage stage({"102", "qq."}, store);
    Retention retention(100, 1 << 20);
    Journal journal(directory.string(), 1 << 20);
    journal.load([](const RetainedMessage&) { FAIL("an empty journal"); });
    RecordingOutlet outlet;
    stage.retain_in(&retention);
    stage.journal_in(&journal);
    stage.add_outlet(outlet);
    stage.reserve_ahead();
    stage.publish("A", R"({"n":1})", from(Source::gateway, "x"));
    stage.publish("B", R"({"n":2})", from(Source::gateway, "x"));  // a repeat: neither kept nor written
    stage.publish("C", R"({"n":3})", from(Source::webhook, "y"));
    stage.finish();

    REQUIRE(retention.size() == 2);
    REQUIRE(retention.at(1).relay_seq == 2);
    REQUIRE(retention.at(1).topic() == "qq.C");
    REQUIRE(retention.at(1).metadata() == outlet.seen.at(1).metadata);
    REQUIRE(journal.counters().records_written == 2);
  }
  std::vector<RetainedMessage> loaded;
  Journal reopened(directory.string(), 1 << 20);
  reopened.load([&](const RetainedMessage& message) { loaded.push_back(message); });
  REQUIRE(loaded.size() == 2);
  REQUIRE(loaded[0].body() == R"({"n":1})");
  REQUIRE(loaded[1].relay_seq == 2);
}

TEST_CASE("relay_seq_reserved is a block ahead while running and the last number after a clean finish") {
  MemoryStore store;
  StageSettings settings{"102", ""};
  settings.reservation_block = 100;
  PublishStage stage(settings, store);
  stage.resume_relay_seq_after(1000);
  stage.reserve_ahead();
  REQUIRE(stage.relay_seq_reserved() == 1100);
  for (int i = 0; i < 60; ++i) {
    stage.publish("T", "{}", from(Source::gateway));
  }
  // Half a block before the end (at 1050), a block beyond that was reserved.
  REQUIRE(stage.relay_seq_reserved() == 1150);
  stage.finish();
  REQUIRE(stage.relay_seq_reserved() == 1060);
}
