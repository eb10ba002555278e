#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace relay::protocol {

// Client-to-gateway frames (SPEC section 5). `token` is the full token string, e.g. "QQBot <access_token>".
std::string identify_frame(std::string_view token, std::uint32_t intents, unsigned shard_index,
                           unsigned shard_count);
std::string resume_frame(std::string_view token, std::string_view session_id, std::uint64_t seq);
std::string heartbeat_frame(std::optional<std::uint64_t> last_seq);

}  // namespace relay::protocol
