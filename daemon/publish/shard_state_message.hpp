#pragma once

#include <string>
#include <string_view>

namespace relay::publish {

// What a relay.shard message reports (docs/subscribing.md).
struct ShardStateReport {
  unsigned index = 0;
  unsigned count = 1;
  std::string_view state;       // gateway::to_string(ShardState)
  std::string_view session_id;  // empty: null
  int close_code = 0;
  std::string_view reason;  // any bytes: written as valid UTF-8
  bool will_resume = false;
};

// The body of a relay.shard message, into `out` (cleared first): {"shard":[i,n],"state":..,"session_id":..,
// "close_code":N,"reason":..,"will_resume":bool}.
void encode_shard_state(std::string& out, const ShardStateReport& report);

}  // namespace relay::publish
