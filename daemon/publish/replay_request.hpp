#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "util/expected.hpp"

namespace relay::publish {

// A catch-up request as the replay endpoint receives it: {"since":N,"max":M}, max optional.
struct ReplayRequest {
  std::uint64_t since = 0;
  std::uint64_t max = 0;  // positive; `default_max` when the request has none
};

// The request, or the error text the client is sent. Pure, so that it can be fuzzed (tests/fuzz).
util::Expected<ReplayRequest, std::string> parse_replay_request(std::string_view bytes,
                                                                std::uint64_t default_max);

}  // namespace relay::publish
