#include <set>
#include <string>

#include <catch2/catch.hpp>

#include "protocol/event_intents.hpp"
#include "protocol/intents.hpp"

using relay::protocol::intent_bit;
using relay::protocol::intent_of_event;

TEST_CASE("each event type maps to the intent SPEC section 8 says enables it") {
  CHECK(intent_of_event("AT_MESSAGE_CREATE") == intent_bit("PUBLIC_GUILD_MESSAGES"));
  CHECK(intent_of_event("GROUP_AT_MESSAGE_CREATE") == intent_bit("GROUP_AND_C2C_EVENT"));
  CHECK(intent_of_event("C2C_MESSAGE_CREATE") == intent_bit("GROUP_AND_C2C_EVENT"));
  CHECK(intent_of_event("MESSAGE_CREATE") == intent_bit("GUILD_MESSAGES"));
  CHECK(intent_of_event("DIRECT_MESSAGE_CREATE") == intent_bit("DIRECT_MESSAGE"));
  CHECK(intent_of_event("GUILD_MEMBER_ADD") == intent_bit("GUILD_MEMBERS"));
  CHECK(intent_of_event("CHANNEL_DELETE") == intent_bit("GUILDS"));
  CHECK(intent_of_event("INTERACTION_CREATE") == intent_bit("INTERACTION"));
  CHECK(intent_of_event("FORUM_PUBLISH_AUDIT_RESULT") == intent_bit("FORUMS_EVENT"));
  CHECK(intent_of_event("OPEN_FORUM_REPLY_DELETE") == intent_bit("OPEN_FORUMS_EVENT"));
  CHECK(intent_of_event("AUDIO_OFF_MIC") == intent_bit("AUDIO_ACTION"));
  CHECK(intent_of_event("MESSAGE_AUDIT_REJECT") == intent_bit("MESSAGE_AUDIT"));
  CHECK(intent_of_event("PUBLIC_MESSAGE_DELETE") == intent_bit("PUBLIC_GUILD_MESSAGES"));
}

TEST_CASE("session events and unknown types have no intent") {
  CHECK_FALSE(intent_of_event("READY"));
  CHECK_FALSE(intent_of_event("RESUMED"));
  CHECK_FALSE(intent_of_event("SOMETHING_NEW"));
  CHECK_FALSE(intent_of_event("at_message_create"));  // case matters, as on the wire
  CHECK_FALSE(intent_of_event(""));
}

TEST_CASE("the table lists each event once, and only bits of named intents") {
  std::set<std::string> seen;
  for (const auto& entry : relay::protocol::event_intent_table()) {
    INFO(entry.event);
    CHECK(seen.insert(std::string(entry.event)).second);
    bool named = false;
    for (const auto& intent : relay::protocol::intent_table()) {
      named = named || intent.bit == entry.bit;
    }
    CHECK(named);
  }
  CHECK(seen.size() >= 50);
}
