// FrameReader reading a client's frames (Peer::client, RFC 6455 section 5.3): whatever the bytes, fed in one
// piece or cut anywhere, the reader reports the same messages, pings, close and error. And masking changes
// nothing else: the same frames unmasked here (mask bit cleared, key dropped, payload XORed byte by byte)
// and read as a server's frames give the same events; up to an unmasked frame, which a client-frame reader
// refuses with 1002. Input: split_input.hpp's cuts, then the frames.
#include <cstdint>
#include <string>

#include "frame_reader_outcome.hpp"
#include "split_input.hpp"

namespace {

struct Unmasked {
  std::string frames;           // what the input's frames are without their masks
  bool exact = true;            // false where the input ends in a way the two readers see differently (below)
  bool unmasked_frame = false;  // the input holds a frame without a mask: `frames` stops before it
};

Unmasked unmask_frames(std::string_view input) {
  Unmasked out;
  std::size_t at = 0;
  while (at < input.size()) {
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(input[at + i]); };
    const std::size_t left = input.size() - at;
    if (left < 2) {
      out.frames.append(input.substr(at));
      break;
    }
    if ((byte(1) & 0x80) == 0) {
      out.unmasked_frame = true;
      out.exact = false;
      break;
    }
    const unsigned length7 = byte(1) & 0x7F;
    const std::size_t length_bytes = length7 == 126 ? 2 : length7 == 127 ? 8 : 0;
    std::string header = std::string(input.substr(at, std::min(left, 2 + length_bytes)));
    header[1] = static_cast<char>(byte(1) & 0x7F);
    if (left < 2 + length_bytes + 4) {
      // A header cut in its length is read alike either way; cut in its mask key, a client-frame reader
      // waits for the key while a server-frame reader already starts the frame: only their events compare.
      out.exact = left < 2 + length_bytes;
      if (out.exact) {
        out.frames += header;
      }
      break;
    }
    std::uint64_t length = length7;
    if (length_bytes != 0) {
      length = 0;
      for (std::size_t i = 0; i < length_bytes; ++i) {
        length = (length << 8) | byte(2 + i);
      }
    }
    const std::size_t key_at = 2 + length_bytes;
    out.frames += header;
    const std::size_t payload_at = at + key_at + 4;
    const auto available =
        static_cast<std::size_t>(std::min<std::uint64_t>(length, input.size() - payload_at));
    for (std::size_t i = 0; i < available; ++i) {
      out.frames.push_back(static_cast<char>(input[payload_at + i] ^ byte(key_at + i % 4)));
    }
    at = payload_at + available;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using relay::fuzz::FrameOutcome;
  using relay::fuzz::read_frames;
  using relay::websocket::Peer;
  const relay::fuzz::SplitInput input = relay::fuzz::split_input(data, size);
  const FrameOutcome whole = read_frames({input.payload}, Peer::client);
  FUZZ_CHECK(whole == read_frames(input.pieces, Peer::client));

  const Unmasked unmasked = unmask_frames(input.payload);
  const FrameOutcome plain = read_frames({unmasked.frames}, Peer::server);
  FUZZ_CHECK(whole.events == plain.events);
  if (unmasked.exact) {
    // Only the words of a 1009 differ: a client is told the limit, the relay's own client names its setting.
    FrameOutcome alike = plain;
    if (alike.error_code == relay::websocket::k_close_message_too_big) {
      alike.error = whole.error;
    }
    FUZZ_CHECK(whole == alike);
  } else if (unmasked.unmasked_frame && !plain.stopped) {
    FUZZ_CHECK(whole.error_code == relay::websocket::k_close_protocol_error);
  }
  return 0;
}
