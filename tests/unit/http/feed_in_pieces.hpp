// Feeding a byte-stream reader (RequestReader, ResponseReader) the way a socket would: in pieces.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string_view>

namespace relay::test {

// Feeds `bytes` in pieces of `step` bytes while the reader wants more; returns the bytes used.
template <class Reader>
std::size_t feed_in_pieces(Reader& reader, std::string_view bytes, std::size_t step) {
  using State = typename Reader::State;
  std::size_t used = 0;
  while (used < bytes.size() && (reader.state() == State::head || reader.state() == State::body)) {
    const std::size_t n = reader.feed(bytes.substr(used, std::min(step, bytes.size() - used)));
    used += n;
    if (n == 0) {
      break;
    }
  }
  return used;
}

}  // namespace relay::test
