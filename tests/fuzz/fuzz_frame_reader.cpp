// FrameReader (RFC 6455 framing, server to client): whatever the bytes, fed in one piece or cut anywhere, the
// reader reports the same messages, pings, close and error, and never reads outside its buffers; a close it
// reports has a code valid on the wire and a UTF-8 reason.
#include <cstdint>

#include "frame_reader_outcome.hpp"
#include "split_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using relay::websocket::Peer;
  const relay::fuzz::SplitInput input = relay::fuzz::split_input(data, size);
  const relay::fuzz::FrameOutcome whole = relay::fuzz::read_frames({input.payload}, Peer::server);
  FUZZ_CHECK(whole == relay::fuzz::read_frames(input.pieces, Peer::server));
  return 0;
}
