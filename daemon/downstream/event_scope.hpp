#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "downstream/frame_layout.hpp"
#include "protocol/event_routing.hpp"

namespace relay::downstream {

// What a downstream session identified for: the intents it asked for and its shard [index, count].
struct SessionScope {
  std::uint32_t intents = 0;
  unsigned shard_index = 0;
  unsigned shard_count = 1;
};

// What the scope check needs to know about one event, worked out once per event and shared by every session.
class EventFacts {
 public:
  explicit EventFacts(const FrameLayout& layout);

  // A Dispatch other than READY and RESUMED (each session gets its own of those).
  bool deliverable() const { return m_deliverable; }
  // Whether a session with `scope` is sent this event: its type's intent is among the session's (a type no
  // intent lists goes to every session, so that an event type newer than the table is not lost), and, when
  // the session is one of several shards, the event's routing key falls on its shard.
  bool in(const SessionScope& scope);

 private:
  const FrameLayout& m_layout;
  bool m_deliverable = false;
  std::optional<std::uint32_t> m_intent;
  std::optional<protocol::RoutingKey> m_key;  // parsed the first time a sharded session asks
};

}  // namespace relay::downstream
