#pragma once

#include <cstdint>
#include <string_view>

#include "publish/metadata.hpp"

namespace relay::publish {

// A message as it leaves the publish stage: numbered, de-duplicated, and in its three wire frames. The views
// are valid only during Outlet::deliver.
struct OutgoingMessage {
  std::uint64_t relay_seq = 0;
  std::string_view type;      // the event type as it came in ("AT_MESSAGE_CREATE", "relay.shard")
  std::string_view topic;     // frame 1: publish.topic_prefix + type
  std::string_view body;      // frame 2: the bytes as received
  std::string_view metadata;  // frame 3 (docs/subscribing.md)
  const MessageInfo* info = nullptr;
};

// Where published messages go: the ZeroMQ PUB socket today; downstream gateway sessions and others plug in
// the same way, without the stage or the application changing.
class Outlet {
 public:
  virtual ~Outlet() = default;
  // Every published message, in relay_seq order. Must not block: queue, and send in flush().
  virtual void deliver(const OutgoingMessage& message) = 0;
  // The end of an event-loop pass: hand what was queued to the transport.
  virtual void flush() {}
};

}  // namespace relay::publish
