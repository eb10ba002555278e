#pragma once

#include <cstdint>
#include <string_view>

namespace bench {

// The simulator's send time (`"send_ns":"<19 digits>"`, CLOCK_MONOTONIC ns, written by `--stamp` near the end
// of each generated event), read from the last `tail_bytes` of a message; 0 when there is none.
inline std::uint64_t stamp_of(std::string_view message, std::size_t tail_bytes = 64) {
  constexpr std::string_view key = R"("send_ns":")";
  const std::string_view tail = message.substr(message.size() > tail_bytes ? message.size() - tail_bytes : 0);
  const auto at = tail.rfind(key);
  if (at == std::string_view::npos || at + key.size() + 19 > tail.size()) {
    return 0;
  }
  std::uint64_t value = 0;
  for (char c : tail.substr(at + key.size(), 19)) {
    if (c < '0' || c > '9') {
      return 0;
    }
    value = value * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return value;
}

}  // namespace bench
