#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "gateway/close_codes.hpp"

namespace relay::gateway {

// Send one text frame on the shard's socket.
struct Send {
  std::string text;
};

// Close the socket with this code. The session has already moved on: the driver must not report this
// socket's closure back.
struct Close {
  int code;
  std::string_view reason;
};

// Open a new WebSocket to the gateway URL and report on_connected or on_closed.
struct Connect {};

// Ask the process-wide identify pacer for a slot; the driver calls on_identify_permitted when it comes.
struct RequestIdentify {};

// The cached access token was refused: fetch a new one before the next connect.
struct RefreshToken {};

// The shard layout is wrong (4011): fetch /gateway/bot and restart every shard with the new count.
struct Reshard {};

// A Dispatch to publish. Views point into the frame the driver passed in and die when that call returns.
struct Publish {
  std::string_view frame;
  std::string_view event_type;
  std::string_view event_id;
  std::optional<std::uint64_t> seq;
};

enum class ShardState { connecting, ready, resumed, disconnected, stopped };
std::string_view to_string(ShardState state);

// A change subscribers and operators should see (published on the relay.shard topic).
struct StateChanged {
  ShardState state;
  int close_code = 0;
  std::string reason;
  bool will_resume = false;
};

// The shard stopped for good.
struct Stopped {
  StopCategory category;
  int close_code;
  std::string message;
};

using Action = std::variant<Send, Close, Connect, RequestIdentify, RefreshToken, Reshard, Publish,
                            StateChanged, Stopped>;

// Reused by the driver between calls so that the hot path does not allocate.
using Actions = std::vector<Action>;

}  // namespace relay::gateway
