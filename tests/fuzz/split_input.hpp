#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace relay::fuzz {

// An input with its own cut points: the first byte says how many cuts (0 to 15), the next that many bytes are
// the lengths of the first pieces (0 allowed: an empty read), and the rest is the payload. The last piece is
// whatever the cuts leave.
struct SplitInput {
  std::string_view payload;
  std::vector<std::string_view> pieces;
};

inline SplitInput split_input(const std::uint8_t* data, std::size_t size) {
  SplitInput out;
  if (size == 0) {
    return out;
  }
  const std::size_t cuts = std::min<std::size_t>(data[0] % 16, size - 1);
  const std::uint8_t* lengths = data + 1;
  out.payload = std::string_view(reinterpret_cast<const char*>(data + 1 + cuts), size - 1 - cuts);
  std::string_view rest = out.payload;
  for (std::size_t i = 0; i < cuts; ++i) {
    const std::size_t length = std::min<std::size_t>(lengths[i], rest.size());
    out.pieces.push_back(rest.substr(0, length));
    rest.remove_prefix(length);
  }
  out.pieces.push_back(rest);
  return out;
}

}  // namespace relay::fuzz
